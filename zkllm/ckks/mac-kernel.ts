/**
 * The multiply-accumulate kernel's memory: encoded diagonal plaintexts, the rotated inputs of the
 * request in flight and one accumulator, in a WebAssembly instance of its own (see
 * assembly/mac-kernels.ts for why the sums are not left to SEAL).
 *
 * Data moves in and out of SEAL through its uncompressed serialization, whose layout is fixed by
 * SEAL 4.x: a plaintext's residues start at byte 88, a ciphertext's at byte 113 (after the
 * serialization header, parms_id, the size and scale fields and the data array's header), each
 * residue a little-endian u64, polynomial by polynomial and prime by prime. The layouts are
 * checked on every call (lengths and the declared counts), so a SEAL upgrade that changed them
 * fails loudly instead of computing garbage.
 *
 * Memory is handed out in blocks of whole "slots" (one polynomial's residues at the first level:
 * N × primes × 8 bytes). Plaintexts take one slot and come and go with the evaluator's cache;
 * a ciphertext takes two, the accumulator four. Freed blocks are reused by blocks of their size.
 */
import { MAC_KERNELS_WASM } from "./generated/mac-kernels-wasm";

/**
 * The part of the WebAssembly JS API used here (TypeScript types it only in its DOM library, which
 * this Node.js project does not load).
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
};

type Exports = {
  memory: WasmMemory;
  heapBase(): number;
  mac(acc: number, ct: number, pt: number, n: number): void;
  reduce(out: number, acc: number, n: number, q: bigint, r0: bigint, r1: bigint): void;
};

const PAGE = 65_536;
const GROW_STEP = 64 * 1024 ** 2;
/** WebAssembly 32-bit memory ends at 4 GiB. */
const MEMORY_LIMIT = 4 * 1024 ** 3;
/** Where residues start in SEAL's uncompressed serializations. */
export const PLAINTEXT_DATA_OFFSET = 88;
export const CIPHERTEXT_DATA_OFFSET = 113;
/** The scale field of a serialized ciphertext (f64). */
const CIPHERTEXT_SCALE_OFFSET = 73;

let compiled: object | undefined;

/** A handle to a block of kernel memory (its byte offset). */
export type Block = number;

/** One thread's kernel for one parameter level (the first data level, where products happen). */
export class MacKernel {
  private readonly k: Exports;
  private readonly slotBytes: number;
  private top: number;
  private readonly free = new Map<number, Block[]>();
  private readonly acc: Block;
  private readonly out: Block;
  private readonly ratios: { q: bigint; r0: bigint; r1: bigint }[];
  /** Bytes held by plaintext blocks now. */
  plaintextBytes = 0;

  constructor(
    private readonly n: number,
    moduli: readonly bigint[],
  ) {
    compiled ??= new WebAssembly.Module(Buffer.from(MAC_KERNELS_WASM, "base64"));
    this.k = new WebAssembly.Instance(compiled, {}).exports as unknown as Exports;
    this.slotBytes = n * moduli.length * 8;
    this.top = Math.ceil(this.k.heapBase() / 64) * 64;
    this.ratios = moduli.map((q) => {
      const ratio = (1n << 128n) / q;
      return { q, r0: ratio & 0xffff_ffff_ffff_ffffn, r1: ratio >> 64n };
    });
    this.acc = this.alloc(4);
    this.out = this.alloc(2);
  }

  private alloc(slots: number): Block {
    const reused = this.free.get(slots)?.pop();
    if (reused !== undefined) return reused;
    const at = this.top;
    const end = at + slots * this.slotBytes;
    if (end > MEMORY_LIMIT) throw new RangeError("The multiply-accumulate kernel's 4 GiB memory is full.");
    const have = this.k.memory.buffer.byteLength;
    // Growing may copy the whole memory: grow by at least an eighth (and 64 MiB), not a slot.
    if (end > have) {
      const want = Math.min(MEMORY_LIMIT, Math.max(end, have + Math.max(have / 8, GROW_STEP)));
      this.k.memory.grow(Math.ceil((want - have) / PAGE));
    }
    this.top = end;
    return at;
  }

  private release(block: Block, slots: number): void {
    const list = this.free.get(slots) ?? [];
    list.push(block);
    this.free.set(slots, list);
  }

  private copyIn(block: Block, raw: Uint8Array, offset: number, bytes: number, what: string): void {
    if (raw.length !== offset + bytes) {
      throw new Error(`internal: a serialized ${what} has ${raw.length} bytes, expected ${offset + bytes}`);
    }
    new Uint8Array(this.k.memory.buffer, block, bytes).set(raw.subarray(offset));
  }

  /** Keeps an encoded plaintext (SEAL's uncompressed `saveArray`); returns its block. */
  storePlaintext(raw: Uint8Array): Block {
    const block = this.alloc(1);
    try {
      this.copyIn(block, raw, PLAINTEXT_DATA_OFFSET, this.slotBytes, "plaintext");
    } catch (error) {
      this.release(block, 1);
      throw error;
    }
    this.plaintextBytes += this.slotBytes;
    return block;
  }

  freePlaintext(block: Block): void {
    this.release(block, 1);
    this.plaintextBytes -= this.slotBytes;
  }

  /** Copies a two-polynomial first-level ciphertext (SEAL's uncompressed `saveArray`) in. */
  storeCiphertext(raw: Uint8Array): Block {
    const block = this.alloc(2);
    try {
      this.copyIn(block, raw, CIPHERTEXT_DATA_OFFSET, 2 * this.slotBytes, "ciphertext");
    } catch (error) {
      this.release(block, 2);
      throw error;
    }
    return block;
  }

  freeCiphertext(block: Block): void {
    this.release(block, 2);
  }

  /** Starts a new sum. */
  clear(): void {
    new Uint8Array(this.k.memory.buffer, this.acc, 4 * this.slotBytes).fill(0);
  }

  /** Adds ct ⊙ pt (both polynomials of the ciphertext) to the sum. */
  add(ct: Block, pt: Block): void {
    const residues = this.slotBytes / 8;
    this.k.mac(this.acc, ct, pt, residues);
    this.k.mac(this.acc + 2 * this.slotBytes, ct + this.slotBytes, pt, residues);
  }

  /**
   * The sum as a serialized SEAL ciphertext: `header` is a serialized first-level ciphertext whose
   * header is reused (its scale replaced by `scale`).
   */
  result(header: Uint8Array, scale: number): Uint8Array {
    const n = this.n;
    const primes = this.ratios.length;
    for (let poly = 0; poly < 2; poly++) {
      this.ratios.forEach(({ q, r0, r1 }, r) => {
        const index = poly * primes + r;
        this.k.reduce(this.out + index * n * 8, this.acc + index * n * 16, n, q, r0, r1);
      });
    }
    const raw = new Uint8Array(CIPHERTEXT_DATA_OFFSET + 2 * this.slotBytes);
    raw.set(header.subarray(0, CIPHERTEXT_DATA_OFFSET));
    new DataView(raw.buffer).setFloat64(CIPHERTEXT_SCALE_OFFSET, scale, true);
    raw.set(new Uint8Array(this.k.memory.buffer, this.out, 2 * this.slotBytes), CIPHERTEXT_DATA_OFFSET);
    return raw;
  }
}
