/**
 * The safetensors container: an 8-byte little-endian header length N, N bytes of JSON header
 * ({name: {dtype, shape, data_offsets}} plus an optional "__metadata__" string map), then the
 * raw little-endian tensor bytes. Reading validates everything before touching data, because
 * checkpoints come from outside (the converter takes any local Hugging Face directory). Pure
 * bytes in and out (files: ./files.ts), so it runs in a browser too.
 */
import { z } from "zod";

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** Bytes per element of each dtype the format defines. */
export const DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;
export type DType = keyof typeof DTYPE_SIZES;

/** Headers bigger than this are refused (the reference implementation caps at 100 MB too). */
export const MAX_HEADER_BYTES = 100_000_000;

const entrySchema = z.strictObject({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});
const metadataSchema = z.record(z.string(), z.string());

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Offsets into the data section (after the header). */
  begin: number;
  end: number;
}

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function elementCount(shape: ReadonlyArray<number>): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A parsed, validated file; tensor data is decoded on request so unused tensors cost nothing. */
export class SafetensorsFile {
  private constructor(
    private readonly bytes: Uint8Array,
    private readonly dataStart: number,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Readonly<Record<string, string>>,
  ) {}

  static parse(bytes: Uint8Array): SafetensorsFile {
    if (bytes.length < 8)
      throw new SafetensorsError(`file too short (${bytes.length} bytes): no header length`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLen = view.getBigUint64(0, true);
    if (headerLen > BigInt(MAX_HEADER_BYTES)) {
      throw new SafetensorsError(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    }
    const n = Number(headerLen);
    if (8 + n > bytes.length) {
      throw new SafetensorsError(
        `header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n)));
    } catch (e) {
      throw new SafetensorsError(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      throw new SafetensorsError("header must be a JSON object");
    }
    const dataStart = 8 + n;
    const dataLen = bytes.length - dataStart;
    let metadata: Record<string, string> = {};
    const tensors = new Map<string, TensorInfo>();
    for (const [name, raw] of Object.entries(json)) {
      if (name === "__metadata__") {
        const m = metadataSchema.safeParse(raw);
        if (!m.success) throw new SafetensorsError(`__metadata__ must map strings to strings`);
        metadata = m.data;
        continue;
      }
      const e = entrySchema.safeParse(raw);
      if (!e.success) {
        throw new SafetensorsError(`tensor "${name}": bad header entry: ${z.prettifyError(e.error)}`);
      }
      const {
        dtype,
        shape,
        data_offsets: [begin, end],
      } = e.data;
      if (!(dtype in DTYPE_SIZES)) throw new SafetensorsError(`tensor "${name}": unknown dtype ${dtype}`);
      const size = DTYPE_SIZES[dtype as DType];
      if (end < begin)
        throw new SafetensorsError(`tensor "${name}": data_offsets [${begin}, ${end}] are reversed`);
      if (end > dataLen) {
        throw new SafetensorsError(
          `tensor "${name}": data_offsets [${begin}, ${end}] run past the ${dataLen}-byte data section (truncated?)`,
        );
      }
      const expected = elementCount(shape) * size;
      if (end - begin !== expected) {
        throw new SafetensorsError(
          `tensor "${name}": ${dtype}[${shape.join(",")}] needs ${expected} bytes but data_offsets span ${end - begin}`,
        );
      }
      tensors.set(name, { name, dtype: dtype as DType, shape, begin, end });
    }
    // Like the reference reader: tensors must tile the data section exactly, with no overlaps
    // (aliasing) and no gaps (hidden payloads).
    const spans = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
    let cursor = 0;
    for (const t of spans) {
      if (t.begin !== cursor) {
        throw new SafetensorsError(
          t.begin < cursor
            ? `tensor "${t.name}" overlaps the previous tensor (offset ${t.begin} < ${cursor})`
            : `gap in the data section before tensor "${t.name}" (offset ${t.begin}, expected ${cursor})`,
        );
      }
      cursor = t.end;
    }
    if (cursor !== dataLen) {
      throw new SafetensorsError(
        `data section has ${dataLen - cursor} trailing bytes not covered by any tensor`,
      );
    }
    return new SafetensorsFile(bytes, dataStart, tensors, metadata);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(`no tensor named "${name}"`);
    return t;
  }

  /** Decodes a floating-point tensor to float32 (F32 as is; F16, BF16 and F64 converted). */
  getF32(name: string): F32Tensor {
    const t = this.info(name);
    const n = elementCount(t.shape);
    const at = this.dataStart + t.begin;
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + at, t.end - t.begin);
    const out = new Float32Array(n);
    switch (t.dtype) {
      case "F32":
        if (LITTLE_ENDIAN) {
          // A byte copy also sidesteps alignment: the data may start at any offset.
          new Uint8Array(out.buffer).set(this.bytes.subarray(at, at + 4 * n));
        } else {
          for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
        }
        break;
      case "F64":
        for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
        break;
      case "F16": {
        const table = halfTable();
        for (let i = 0; i < n; i++) out[i] = table[view.getUint16(2 * i, true)]!;
        break;
      }
      case "BF16": {
        const u = new Uint32Array(1);
        const f = new Float32Array(u.buffer);
        for (let i = 0; i < n; i++) {
          u[0] = view.getUint16(2 * i, true) << 16;
          out[i] = f[0]!;
        }
        break;
      }
      default:
        throw new SafetensorsError(
          `tensor "${name}" has dtype ${t.dtype}; only F32, F64, F16 and BF16 load as floats`,
        );
    }
    return { shape: [...t.shape], data: out };
  }
}

let HALF_TABLE: Float32Array | undefined;

/** Every half's float32 value (256 KiB, built once): a lookup is several times faster than decoding. */
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_TABLE[h] = halfToFloat(h);
  }
  return HALF_TABLE;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The dtypes the writer stores float32 tensors as (half precision as Hugging Face often saves). */
export type StoredFloatDType = "F32" | "F16" | "BF16";

export interface SerializeOptions {
  /** Storage dtype (default F32); F16 and BF16 round to nearest, ties to even, as torch does. */
  dtype?: StoredFloatDType;
}

/** Serialises float tensors (sorted by name, 8-byte aligned data, as the reference writer does). */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, F32Tensor> | Readonly<Record<string, F32Tensor>>,
  metadata?: Readonly<Record<string, string>>,
  options: SerializeOptions = {},
): Uint8Array {
  const dtype = options.dtype ?? "F32";
  const size = DTYPE_SIZES[dtype];
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === "__metadata__") throw new SafetensorsError(`"__metadata__" cannot name a tensor`);
    if (elementCount(t.shape) !== t.data.length) {
      throw new SafetensorsError(
        `tensor "${name}": shape [${t.shape.join(",")}] does not hold ${t.data.length} values`,
      );
    }
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size * t.data.length] };
    offset += size * t.data.length;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(headerBytes.length + pad).fill(0x20);
    padded.set(headerBytes);
    headerBytes = padded;
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of entries) {
    if (dtype === "F16") {
      for (let i = 0; i < t.data.length; i++, at += 2) view.setUint16(at, floatToHalf(t.data[i]!), true);
    } else if (dtype === "BF16") {
      for (let i = 0; i < t.data.length; i++, at += 2) view.setUint16(at, floatToBfloat16(t.data[i]!), true);
    } else if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
      at += t.data.byteLength;
    } else {
      for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i]!, true);
    }
  }
  return out;
}

const F32_SCRATCH = new Float32Array(1);
const U32_SCRATCH = new Uint32Array(F32_SCRATCH.buffer);

/** IEEE binary16 bits of a float32 value, rounded to nearest even (subnormals kept, overflow to ±∞). */
export function floatToHalf(value: number): number {
  F32_SCRATCH[0] = value;
  const x = U32_SCRATCH[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal half: shift the full significand (implicit bit included) down to units of 2^-24.
    const full = mant | 0x800000;
    const shift = 14 - e;
    let h = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, which is the correctly rounded result (up to ∞).
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** bfloat16 bits of a float32 value (the top half, rounded to nearest even; NaN stays NaN). */
export function floatToBfloat16(value: number): number {
  F32_SCRATCH[0] = value;
  const x = U32_SCRATCH[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) & 0x8000) | 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
