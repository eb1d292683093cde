/**
 * Bytes on the wire: ciphertexts and evaluation keys, zstd-compressed, behind a checked header.
 *
 * Blob layout (little endian):
 *
 * | offset | size | field                                                        |
 * |--------|------|--------------------------------------------------------------|
 * | 0      | 4    | magic `ZKCK`                                                 |
 * | 4      | 1    | format version (1)                                           |
 * | 5      | 1    | kind: 1 ciphertext, 2 Galois keys, 3 relinearization keys    |
 * | 6      | 1    | parameter-set code (`ParamSet.code`)                         |
 * | 7      | 1    | flags: bit 0 = payload is one zstd frame (always set)        |
 * | 8      | 4    | raw length: bytes of the SEAL serialization inside           |
 * | 12     | 4    | payload length: bytes after this header                      |
 * | 16     | …    | payload                                                      |
 *
 * Why so much checking before SEAL sees a byte: the evaluator deserializes what strangers send,
 * and SEAL runs inside one WASM instance whose heap is shared by every request. A huge declared
 * size or a corrupt structure can make SEAL allocate gigabytes or abort the instance, which would
 * take the whole evaluator down. So the header bounds every size by what the kind can be for the
 * parameter set, the zstd frame must declare exactly the raw length, and the SEAL structure
 * (headers, parms_id, ring degree, level, element counts, seeds) is parsed here and must match the
 * context exactly. Only then does SEAL's own `load` run (inside try/catch), which additionally
 * checks that every coefficient is below its modulus. Secret keys have no serializer here on
 * purpose: this module is shared with the server, and the secret key never leaves `client.ts`.
 */
import { compress, decompress, init as initZstdWasm } from "@bokuweb/zstd-wasm";
import type { CipherText } from "node-seal/implementation/cipher-text";
import type { GaloisKeys } from "node-seal/implementation/galois-keys";
import type { RelinKeys } from "node-seal/implementation/relin-keys";
import { ZkllmInputError } from "./errors";
import { dataPrimeCount, paramSetByCode, type CkksContext, type ParamSet } from "./params";

/** Evaluation keys as a client sends them to a server (once per session). */
export type EvalKeyBlobs = {
  /** Galois keys for the plan's rotation steps; absent when no step rotates. */
  galois?: Uint8Array;
  /** Relinearization keys; only when a plan multiplies ciphertexts. */
  relin?: Uint8Array;
};

/** What a blob carries. */
export type BlobKind = "ciphertext" | "galoisKeys" | "relinKeys";

const KIND_CODES: Record<BlobKind, number> = { ciphertext: 1, galoisKeys: 2, relinKeys: 3 };
const MAGIC = [0x5a, 0x4b, 0x43, 0x4b]; // "ZKCK"
/** Current blob format version. */
export const BLOB_VERSION = 1;
/** Bytes of the blob header. */
export const BLOB_HEADER_BYTES = 16;
const FLAG_ZSTD = 1;
/** zstd level 1: ciphertexts are near-random, higher levels cost 5–40× the time for ≤ 2 %. */
const ZSTD_LEVEL = 1;
/** Most Galois keys a blob may hold (a model plan needs a few dozen rotation steps). */
export const MAX_GALOIS_KEYS = 128;

/** The parsed header of a blob. */
export type BlobHeader = {
  kind: BlobKind;
  paramSet: ParamSet;
  /** Length of the SEAL serialization inside. */
  rawLength: number;
  /** Length of the compressed payload. */
  payloadLength: number;
};

let zstdReady: Promise<void> | undefined;

/** Loads the zstd WASM module (once per thread); every other function here needs it first. */
export function initZstd(): Promise<void> {
  zstdReady ??= initZstdWasm();
  return zstdReady;
}

function fail(code: ZkllmInputError["code"], message: string): never {
  throw new ZkllmInputError(code, message);
}

// ---------------------------------------------------------------------------------------------
// Size bounds (pure)

const SEAL_HEADER = 16;
/** Bytes of a serialized SEAL ciphertext with `primes` primes, seeded (c1 replaced by a seed) or not. */
export function sealCiphertextBytes(n: number, primes: number, seeded: boolean): number {
  // header + parms_id + ntt flag + size, degree, modulus count, scale, correction factor
  const metadata = SEAL_HEADER + 32 + 1 + 5 * 8;
  const polys = seeded ? 1 : 2;
  const data = SEAL_HEADER + 8 + polys * n * primes * 8;
  const seed = seeded ? SEAL_HEADER + 1 + 64 : 0;
  return metadata + data + seed;
}

/** Largest SEAL serialization a blob of `kind` may carry for `set`. */
export function maxRawBytes(kind: BlobKind, set: ParamSet): number {
  const n = set.polyModulusDegree;
  const all = set.coeffModulusBits.length;
  const data = dataPrimeCount(set);
  const keyBytes = data * sealCiphertextBytes(n, all, false);
  switch (kind) {
    case "ciphertext":
      return sealCiphertextBytes(n, data, false);
    case "relinKeys":
      return SEAL_HEADER + 32 + 8 + 8 + keyBytes;
    case "galoisKeys":
      return SEAL_HEADER + 32 + 8 + n * 8 + MAX_GALOIS_KEYS * keyBytes;
  }
}

// ---------------------------------------------------------------------------------------------
// Header and zstd frame (pure)

/** Parses and checks a blob header; `expect` pins the kind and parameter set. */
export function readBlobHeader(
  bytes: Uint8Array,
  expect?: { kind?: BlobKind; paramSet?: ParamSet },
): BlobHeader {
  if (!(bytes instanceof Uint8Array)) fail("MalformedBlob", "A blob must be a Uint8Array.");
  if (bytes.length < BLOB_HEADER_BYTES) {
    fail("TruncatedBlob", `A blob needs at least ${BLOB_HEADER_BYTES} header bytes; got ${bytes.length}.`);
  }
  if (MAGIC.some((b, i) => bytes[i] !== b)) fail("MalformedBlob", "Not a ZK-LLM CKKS blob (bad magic).");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(4);
  if (version !== BLOB_VERSION)
    fail("MalformedBlob", `Unsupported blob version ${version} (expected ${BLOB_VERSION}).`);
  const kindCode = view.getUint8(5);
  const kind = (Object.keys(KIND_CODES) as BlobKind[]).find((k) => KIND_CODES[k] === kindCode);
  if (!kind) fail("MalformedBlob", `Unknown blob kind code ${kindCode}.`);
  if (expect?.kind && kind !== expect.kind) fail("WrongKind", `Expected a ${expect.kind} blob, got ${kind}.`);
  const paramSet = paramSetByCode(view.getUint8(6));
  if (!paramSet) fail("WrongParameters", `Unknown CKKS parameter-set code ${view.getUint8(6)}.`);
  if (expect?.paramSet && paramSet.id !== expect.paramSet.id) {
    fail(
      "WrongParameters",
      `The ${kind} was made for parameter set ${paramSet.id}; this side uses ${expect.paramSet.id}.`,
    );
  }
  const flags = view.getUint8(7);
  if (flags !== FLAG_ZSTD) fail("MalformedBlob", `Unsupported blob flags 0x${flags.toString(16)}.`);
  const rawLength = view.getUint32(8, true);
  const payloadLength = view.getUint32(12, true);
  const max = maxRawBytes(kind, paramSet);
  if (rawLength > max)
    fail(
      "OversizedBlob",
      `A ${kind} for ${paramSet.id} is at most ${max} bytes; this one declares ${rawLength}.`,
    );
  // zstd never expands by more than a small bound (ZSTD_compressBound); anything larger is padding.
  if (payloadLength > rawLength + (rawLength >> 7) + 1024) {
    fail("OversizedBlob", `Compressed payload of ${payloadLength} bytes for ${rawLength} raw bytes.`);
  }
  if (bytes.length < BLOB_HEADER_BYTES + payloadLength) {
    fail(
      "TruncatedBlob",
      `The ${kind} blob declares ${payloadLength} payload bytes but has ${bytes.length - BLOB_HEADER_BYTES}.`,
    );
  }
  if (bytes.length > BLOB_HEADER_BYTES + payloadLength) {
    fail(
      "MalformedBlob",
      `The ${kind} blob has ${bytes.length - BLOB_HEADER_BYTES - payloadLength} trailing bytes.`,
    );
  }
  return { kind, paramSet, rawLength, payloadLength };
}

/** The content size a zstd frame header declares, or undefined if it declares none. */
export function zstdFrameContentSize(frame: Uint8Array): number | undefined {
  if (frame.length < 6) return undefined;
  if (frame[0] !== 0x28 || frame[1] !== 0xb5 || frame[2] !== 0x2f || frame[3] !== 0xfd) return undefined;
  const descriptor = frame[4] as number;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  if ((descriptor >> 3) & 1) return undefined; // reserved bit must be zero
  const dictFlag = descriptor & 3;
  if (dictFlag !== 0) return undefined; // no dictionaries here
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag] as number;
  if (fcsBytes === 0) return undefined;
  const at = 5 + (singleSegment ? 0 : 1);
  if (frame.length < at + fcsBytes) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset + at, fcsBytes);
  switch (fcsBytes) {
    case 1:
      return view.getUint8(0);
    case 2:
      return view.getUint16(0, true) + 256;
    case 4:
      return view.getUint32(0, true);
    default: {
      const big = view.getBigUint64(0, true);
      return big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
    }
  }
}

/** Wraps raw SEAL bytes into a blob. */
export function writeBlob(kind: BlobKind, set: ParamSet, raw: Uint8Array): Uint8Array {
  const payload = compress(raw, ZSTD_LEVEL);
  const out = new Uint8Array(BLOB_HEADER_BYTES + payload.length);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint8(4, BLOB_VERSION);
  view.setUint8(5, KIND_CODES[kind]);
  view.setUint8(6, set.code);
  view.setUint8(7, FLAG_ZSTD);
  view.setUint32(8, raw.length, true);
  view.setUint32(12, payload.length, true);
  out.set(payload, BLOB_HEADER_BYTES);
  return out;
}

/** Checks the header, decompresses with a bounded output, and returns the raw SEAL bytes. */
export function openBlob(bytes: Uint8Array, kind: BlobKind, set: ParamSet): Uint8Array {
  const header = readBlobHeader(bytes, { kind, paramSet: set });
  const payload = bytes.subarray(BLOB_HEADER_BYTES);
  const declared = zstdFrameContentSize(payload);
  if (declared === undefined)
    fail("MalformedBlob", `The ${kind} payload is not a zstd frame with a content size.`);
  if (declared !== header.rawLength) {
    fail("MalformedBlob", `The ${kind} payload declares ${declared} bytes, the header ${header.rawLength}.`);
  }
  let raw: Uint8Array;
  try {
    // Safe: the frame's declared size (what the decompressor allocates) equals rawLength, which
    // the header check bounded; a frame that would write more fails inside zstd instead.
    raw = decompress(payload);
  } catch {
    fail("MalformedBlob", `The ${kind} payload is not valid zstd data.`);
  }
  if (raw.length !== header.rawLength) {
    fail(
      "MalformedBlob",
      `The ${kind} payload inflated to ${raw.length} bytes, expected ${header.rawLength}.`,
    );
  }
  return raw;
}

// ---------------------------------------------------------------------------------------------
// SEAL structure checks (pure: they read bytes, never call SEAL)

/** Facts about a checked SEAL ciphertext. */
export type CiphertextInfo = {
  /** Data level index (0 = fresh) or -1 for the key level. */
  level: number;
  /** Primes in its modulus. */
  primes: number;
  /** Whether c1 is replaced by a PRNG seed (symmetric, "seeded" encryption). */
  seeded: boolean;
  /** The CKKS scale. */
  scale: number;
};

type Reader = { view: DataView; bytes: Uint8Array; at: number };

function need(r: Reader, n: number, what: string): void {
  if (r.at + n > r.bytes.length) fail("TruncatedBlob", `SEAL data ends inside ${what}.`);
}

function u8(r: Reader, what: string): number {
  need(r, 1, what);
  return r.view.getUint8(r.at++);
}

function u64(r: Reader, what: string): number {
  need(r, 8, what);
  const v = r.view.getBigUint64(r.at, true);
  r.at += 8;
  // Every legitimate size here is far below 2^53; larger values are rejected by the callers.
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** Reads a SEAL header (magic A15E, 16 bytes, version 4.x, uncompressed) and returns its declared size. */
function sealHeader(r: Reader, what: string): number {
  need(r, SEAL_HEADER, what);
  const start = r.at;
  const magic = r.view.getUint16(start, true);
  const headerSize = r.view.getUint8(start + 2);
  const major = r.view.getUint8(start + 3);
  const compr = r.view.getUint8(start + 5);
  const reserved = r.view.getUint16(start + 6, true);
  if (magic !== 0xa15e || headerSize !== SEAL_HEADER || major !== 4 || reserved !== 0) {
    fail("MalformedBlob", `Bad SEAL header in ${what}.`);
  }
  if (compr !== 0) fail("MalformedBlob", `${what} must be stored uncompressed inside the blob.`);
  r.at += 8;
  const size = u64(r, what);
  if (size < SEAL_HEADER || start + size > r.bytes.length) {
    fail("TruncatedBlob", `${what} declares ${size} bytes but only ${r.bytes.length - start} remain.`);
  }
  return size;
}

function parmsIdAt(r: Reader, what: string): bigint[] {
  need(r, 32, what);
  const words = [0, 1, 2, 3].map((i) => r.view.getBigUint64(r.at + 8 * i, true));
  r.at += 32;
  return words;
}

const sameId = (a: readonly bigint[], b: readonly bigint[]) =>
  a.length === b.length && a.every((w, i) => w === b[i]);

/** Checks one serialized SEAL ciphertext starting at `r.at`; `levels` maps allowed parms_ids to prime counts. */
function checkCiphertextAt(
  r: Reader,
  ctx: CkksContext,
  levels: readonly Level[],
  seeded: SeedPolicy,
  what: string,
): CiphertextInfo {
  const start = r.at;
  const declared = sealHeader(r, what);
  const parms = parmsIdAt(r, what);
  const level = levels.find((l) => sameId(l.id, parms));
  if (!level)
    fail("WrongParameters", `${what} belongs to another parameter set or level (unknown parms_id).`);
  const ntt = u8(r, what);
  const size = u64(r, what);
  const degree = u64(r, what);
  const primes = u64(r, what);
  need(r, 8, what);
  const scale = r.view.getFloat64(r.at, true);
  r.at += 8;
  const correction = u64(r, what);
  const n = ctx.set.polyModulusDegree;
  if (ntt !== 1) fail("MalformedBlob", `${what} is not in NTT form (CKKS ciphertexts always are).`);
  if (size !== 2)
    fail("MalformedBlob", `${what} has ${size} polynomials; the engine exchanges only size-2 ciphertexts.`);
  if (degree !== n) fail("WrongParameters", `${what} has ring degree ${degree}; ${ctx.set.id} uses ${n}.`);
  if (primes !== level.moduli.length) {
    fail("MalformedBlob", `${what} declares ${primes} primes for a level with ${level.moduli.length}.`);
  }
  // SEAL's is_scale_within_bounds: 0 < scale and floor(log2(scale)) < bits of the level's modulus.
  if (!(Number.isFinite(scale) && scale > 0 && Math.floor(Math.log2(scale)) < level.bits)) {
    fail("MalformedBlob", `${what} has scale ${scale}, outside (0, 2^${level.bits}).`);
  }
  if (correction !== 1) fail("MalformedBlob", `${what} has correction factor ${correction} (CKKS uses 1).`);
  const arraySize = sealHeader(r, `${what} data`);
  const count = u64(r, `${what} data`);
  const full = 2 * n * primes;
  const isSeeded = count === full / 2;
  if (count !== full && !isSeeded) {
    fail("MalformedBlob", `${what} holds ${count} coefficients; expected ${full} or ${full / 2}.`);
  }
  if (isSeeded && seeded === "forbidden")
    fail("BadRequest", `${what} is seeded; a full ciphertext is expected here.`);
  if (!isSeeded && seeded === "required") {
    fail("BadRequest", `${what} must be seeded (symmetric encryption, as clients send inputs).`);
  }
  if (arraySize !== SEAL_HEADER + 8 + count * 8) fail("MalformedBlob", `${what} data size is inconsistent.`);
  need(r, count * 8, `${what} data`);
  checkCoefficients(r, n, level.moduli, isSeeded ? 1 : 2, what);
  r.at += count * 8;
  if (isSeeded) {
    const seedSize = sealHeader(r, `${what} seed`);
    if (seedSize !== SEAL_HEADER + 1 + 64) fail("MalformedBlob", `${what} seed has the wrong size.`);
    const prng = u8(r, `${what} seed`);
    if (prng !== 1 && prng !== 2) fail("MalformedBlob", `${what} seed names unknown PRNG ${prng}.`);
    need(r, 64, `${what} seed`);
    r.at += 64;
  }
  if (r.at - start !== declared)
    fail("MalformedBlob", `${what} size ${declared} does not match its content.`);
  return { level: level.level, primes: level.moduli.length, seeded: isSeeded, scale };
}

/**
 * Every coefficient must be below its prime (SEAL's is_data_valid_for), and a full ciphertext's
 * second polynomial must not be all zero ("transparent"). SEAL checks both too, but a refusal
 * thrown inside node-seal's WASM leaks the buffers it allocated (~2 ciphertexts per throw,
 * measured) and repeated throws eventually abort the instance, so SEAL must never be the one
 * to say no.
 */
function checkCoefficients(
  r: Reader,
  n: number,
  moduli: readonly bigint[],
  polys: number,
  what: string,
): void {
  const { view } = r;
  let offset = r.at;
  let secondNonZero = polys < 2;
  for (let poly = 0; poly < polys; poly++) {
    for (const q of moduli) {
      const qHi = Number(q >> 32n);
      const qLo = Number(q & 0xffffffffn);
      for (let c = 0; c < n; c++, offset += 8) {
        const lo = view.getUint32(offset, true);
        const hi = view.getUint32(offset + 4, true);
        if (hi > qHi || (hi === qHi && lo >= qLo)) {
          fail("InvalidSealObject", `${what} has a coefficient outside its modulus (polynomial ${poly}).`);
        }
        if (poly === 1 && (lo | hi) !== 0) secondNonZero = true;
      }
    }
  }
  if (!secondNonZero) fail("InvalidSealObject", `${what} is transparent (its second polynomial is zero).`);
}

/** Whether a seeded ciphertext (one polynomial plus a PRNG seed) is acceptable. */
export type SeedPolicy = "required" | "forbidden" | "allowed";

type Level = { id: readonly bigint[]; level: number; moduli: readonly bigint[]; bits: number };

function modulusBits(moduli: readonly bigint[]): number {
  return moduli.reduce((a, b) => a * b, 1n).toString(2).length;
}

function dataLevels(ctx: CkksContext): Level[] {
  return ctx.levelParmsIds.map((id, level) => {
    const moduli = ctx.levelModuli[level] as readonly bigint[];
    return { id, level, moduli, bits: modulusBits(moduli) };
  });
}

/** Checks raw SEAL ciphertext bytes against the context; returns what they hold. */
export function checkSealCiphertext(raw: Uint8Array, ctx: CkksContext, seeded: SeedPolicy): CiphertextInfo {
  const r: Reader = { view: new DataView(raw.buffer, raw.byteOffset, raw.byteLength), bytes: raw, at: 0 };
  const info = checkCiphertextAt(r, ctx, dataLevels(ctx), seeded, "ciphertext");
  if (r.at !== raw.length) fail("MalformedBlob", `ciphertext has ${raw.length - r.at} trailing bytes.`);
  return info;
}

/** Checks raw SEAL key-switching keys (Galois or relinearization); returns the Galois elements present. */
export function checkSealKSwitchKeys(
  raw: Uint8Array,
  ctx: CkksContext,
  kind: "galoisKeys" | "relinKeys",
): number[] {
  const r: Reader = { view: new DataView(raw.buffer, raw.byteOffset, raw.byteLength), bytes: raw, at: 0 };
  const what = kind === "galoisKeys" ? "Galois keys" : "relinearization keys";
  const declared = sealHeader(r, what);
  if (declared !== raw.length) fail("MalformedBlob", `${what} size ${declared} ≠ ${raw.length}.`);
  const parms = parmsIdAt(r, what);
  if (!sameId(parms, ctx.keyParmsId)) fail("WrongParameters", `${what} belong to another parameter set.`);
  const n = ctx.set.polyModulusDegree;
  const dim1 = u64(r, what);
  // SEAL sizes Galois keys by N (index = (element − 1) / 2) and relinearization keys by 1 (s²).
  const expectedDim1 = kind === "galoisKeys" ? n : 1;
  if (dim1 !== expectedDim1) fail("MalformedBlob", `${what} have ${dim1} slots; expected ${expectedDim1}.`);
  const decomposition = dataPrimeCount(ctx.set);
  const keyLevel = [
    { id: ctx.keyParmsId, level: -1, moduli: ctx.keyModuli, bits: modulusBits(ctx.keyModuli) },
  ];
  const elements: number[] = [];
  for (let index = 0; index < dim1; index++) {
    const dim2 = u64(r, what);
    if (dim2 === 0) continue;
    if (dim2 !== decomposition)
      fail("MalformedBlob", `${what} entry ${index} has ${dim2} parts; expected ${decomposition}.`);
    if (kind === "galoisKeys" && elements.length >= MAX_GALOIS_KEYS) {
      fail("OversizedBlob", `Galois keys hold more than ${MAX_GALOIS_KEYS} rotations.`);
    }
    if (kind === "galoisKeys" && index === 0)
      fail("MalformedBlob", "Galois keys cannot hold element 1 (identity).");
    for (let j = 0; j < dim2; j++) checkCiphertextAt(r, ctx, keyLevel, "allowed", `${what} entry ${index}`);
    elements.push(2 * index + 1);
  }
  if (r.at !== raw.length) fail("MalformedBlob", `${what} have ${raw.length - r.at} trailing bytes.`);
  if (kind === "relinKeys" && elements.length !== 1) fail("MalformedBlob", "Relinearization keys are empty.");
  return elements;
}

// ---------------------------------------------------------------------------------------------
// SEAL objects <-> blobs (these call SEAL)

/** Serializes a ciphertext (or a seeded `Serializable` from symmetric encryption) into a blob. */
export function saveCiphertext(
  ctx: CkksContext,
  ct: { saveArray(compression?: unknown): Uint8Array },
): Uint8Array {
  return writeBlob("ciphertext", ctx.set, ct.saveArray(ctx.seal.ComprModeType.none));
}

/** Options of `loadCiphertext`. */
export type LoadCiphertextOptions = {
  /**
   * Seeded ciphertexts: `required` for what clients send (their second polynomial comes from a
   * PRNG, so a client cannot craft products that cancel into a transparent ciphertext, which
   * SEAL would refuse by throwing), `forbidden` for server outputs.
   */
  seeded: SeedPolicy;
  /** Require this data level (0 = fresh). */
  level?: number;
  /** Require exactly this scale. */
  scale?: number;
  /** Name for messages, e.g. "input ciphertext 2". */
  name?: string;
};

/** Checks and loads a ciphertext blob; the caller owns (and must delete) the result. */
export function loadCiphertext(
  ctx: CkksContext,
  bytes: Uint8Array,
  options: LoadCiphertextOptions,
): CipherText {
  const name = options.name ?? "ciphertext";
  const raw = withName(name, () => openBlob(bytes, "ciphertext", ctx.set));
  const info = withName(name, () => checkSealCiphertext(raw, ctx, options.seeded));
  if (options.level !== undefined && info.level !== options.level) {
    fail("BadRequest", `${name} is at level ${info.level}; expected ${options.level}.`);
  }
  if (options.scale !== undefined && info.scale !== options.scale) {
    fail(
      "BadRequest",
      `${name} has scale 2^${Math.log2(info.scale).toFixed(2)}; expected 2^${Math.log2(options.scale)}.`,
    );
  }
  const ct = ctx.seal.CipherText();
  try {
    ct.loadArray(ctx.context, raw);
  } catch (error) {
    ct.delete();
    fail("InvalidSealObject", `SEAL refused ${name}: ${describe(error)}.`);
  }
  return ct;
}

/** Checks and loads a Galois-key blob; returns the keys and the Galois elements they cover. */
export function loadGaloisKeys(
  ctx: CkksContext,
  bytes: Uint8Array,
): { keys: GaloisKeys; elements: number[] } {
  const raw = openBlob(bytes, "galoisKeys", ctx.set);
  const elements = checkSealKSwitchKeys(raw, ctx, "galoisKeys");
  const keys = ctx.seal.GaloisKeys();
  try {
    keys.loadArray(ctx.context, raw);
  } catch (error) {
    keys.delete();
    fail("InvalidSealObject", `SEAL refused the Galois keys: ${describe(error)}.`);
  }
  return { keys, elements };
}

/** Checks and loads a relinearization-key blob. */
export function loadRelinKeys(ctx: CkksContext, bytes: Uint8Array): RelinKeys {
  const raw = openBlob(bytes, "relinKeys", ctx.set);
  checkSealKSwitchKeys(raw, ctx, "relinKeys");
  const keys = ctx.seal.RelinKeys();
  try {
    keys.loadArray(ctx.context, raw);
  } catch (error) {
    keys.delete();
    fail("InvalidSealObject", `SEAL refused the relinearization keys: ${describe(error)}.`);
  }
  return keys;
}

function withName<T>(name: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof ZkllmInputError && !error.message.startsWith(name)) {
      throw new ZkllmInputError(error.code, `${name}: ${error.message}`);
    }
    throw error;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
