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
 * into bytes, in reused buffers, and hashed by ./hash.ts's Keccak-256 (awaited once per tree).
 *
 * Leaf types with this fast path: address, bool, bytes32 and uint8 … uint256, with values in
 * canonical form (an address or bytes32 as a 0x-prefixed hex string of the right length, a bool,
 * a bigint or a safe non-negative integer in range). Anything else — another type, a value OZ's
 * parser would coerce (a numeric string, a short address) or reject — is handed to OZ itself, so
 * the result, or the error, is always OZ's.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { type Address, getAddress } from "viem";
import { type Keccak256, keccak256Hasher } from "./hash";
import { ADDRESS_PATTERN } from "./schemas";

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
function leafHashes(
  keccak: Keccak256,
  values: readonly unknown[],
  leafEncoding: readonly string[],
): Uint8Array | undefined {
  const encoders: WordEncoder[] = [];
  for (const type of leafEncoding) {
    const e = encoderOf(type);
    if (e === undefined) return undefined;
    encoders.push(e);
  }
  // Exactly one encoding long: the hasher takes whole arrays (a subarray would be an allocation).
  const encoded = new Uint8Array(32 * encoders.length);
  const inner = new Uint8Array(32);
  const out = new Uint8Array(32 * values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!Array.isArray(value) || value.length !== encoders.length) return undefined;
    for (let k = 0; k < encoders.length; k++) {
      if (!encoders[k]!(value[k], encoded, 32 * k)) return undefined;
    }
    keccak.hashInto(encoded, inner, 0);
    keccak.hashInto(inner, out, 32 * i);
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
  keccak: Keccak256,
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
  keccak.hashInto(pair, out, at);
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
 * built without OZ's per-leaf cost when every type and value is on the fast path, else by OZ (its
 * error, if it refuses the values, is this promise's).
 */
export async function standardTreeOf<T extends unknown[]>(
  values: T[],
  leafEncoding: string[],
  options: { sortLeaves?: boolean } = {},
): Promise<StandardMerkleTree<T>> {
  const keccak = await keccak256Hasher();
  const n = values.length;
  const hashes = n === 0 ? undefined : leafHashes(keccak, values, leafEncoding);
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
    nodeHashInto(keccak, nodes, 32 * (2 * i + 1), 32 * (2 * i + 2), pair, nodes, 32 * i);
  }
  const indexed = values.map((value, i) => ({ value, treeIndex: treeIndex[i]! }));
  return new PrebuiltTree(nodeHex(nodes, size), indexed, [...leafEncoding]);
}

/**
 * `StandardMerkleTree.load(data)` with the same checks (every value's leaf in its place, every
 * node the hash of its children) done by the fast path; any dump it cannot check that way, or that
 * fails a check, goes to OZ's own `load`, so the result or the error is OZ's.
 */
export async function loadStandardTree<T extends unknown[]>(data: {
  format: string;
  leafEncoding: string[];
  tree: string[];
  values: { value: T; treeIndex: number }[];
}): Promise<StandardMerkleTree<T>> {
  const keccak = await keccak256Hasher();
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
    keccak,
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
    nodeHashInto(keccak, nodes, 32 * (2 * i + 1), 32 * (2 * i + 2), pair, expected, 0);
    if (compare32(expected, 0, nodes, 32 * i) !== 0) return ozLoad();
  }
  return new PrebuiltTree(tree, values, data.leafEncoding);
}

// ─────────────────────────────────────────── addresses ───────────────────────────────────────────

const addressAscii = new Uint8Array(40);
const addressHash = new Uint8Array(32);
const addressOut = Buffer.alloc(42);

/**
 * viem's `getAddress(address)` (EIP-55 checksum casing) with a loaded Keccak-256 (./hash.ts): the
 * same string, and for anything that is not 0x + 40 hex digits viem's own error (viem is called
 * then). Trees of a whole network checksum millions of addresses; viem's hash makes that minutes.
 * Synchronous, so a caller that awaited the hasher once checksums a whole list in one go.
 */
export function checksumAddress(keccak: Keccak256, address: string): Address {
  if (typeof address !== "string" || !ADDRESS_PATTERN.test(address)) return getAddress(address);
  for (let i = 0; i < 40; i++) {
    const c = address.charCodeAt(2 + i);
    addressAscii[i] = c >= 65 && c <= 70 ? c + 32 : c; // lowercase
  }
  keccak.hashInto(addressAscii, addressHash, 0);
  addressOut[0] = 48;
  addressOut[1] = 120;
  for (let i = 0; i < 40; i++) {
    const c = addressAscii[i]!;
    const nibble = i % 2 === 0 ? addressHash[i >> 1]! >> 4 : addressHash[i >> 1]! & 0x0f;
    addressOut[2 + i] = c >= 97 && nibble >= 8 ? c - 32 : c;
  }
  return addressOut.toString("latin1", 0, 42) as Address;
}
