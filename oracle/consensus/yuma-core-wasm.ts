/**
 * The WebAssembly core of a Yuma epoch (see ./yuma-core.ts): the passes of ./yuma-core-js.ts,
 * operation for operation, compiled from ./assembly/yuma-kernels.ts (`npm run build:wasm`, which
 * writes the module into ./generated/yuma-kernels-wasm.ts). Same bits, about half the time: V8
 * checks types and bounds on every typed-array access in JavaScript, and nothing in WebAssembly.
 *
 * Both blocks are row-major here (the JavaScript core keeps the weights column-major): the weights
 * are written row by row, and the column pass reads two adjacent columns with one load per row,
 * as f64x2 lanes.
 *
 * One module instance per process, compiled on first use. Its linear memory is laid out afresh for
 * each epoch from a bump pointer (an arena): inputs copied in, working blocks, outputs copied out.
 * It grows to the largest Brain seen and is reused; every kernel zero-fills what it reads before
 * writing it, so no epoch sees another's data. A Brain whose blocks do not fit in WebAssembly's
 * 4 GiB falls back to the JavaScript core.
 */
import { YUMA_KERNELS_WASM } from "./generated/yuma-kernels-wasm";
import {
  BUCKETS,
  type CoreBonds,
  type CoreColumns,
  type CoreSetup,
  type EpochCore,
  type SparseU16,
  bondImageScales,
  bondRowPointers,
  checkRowUnique,
  oddLineStride,
} from "./yuma-core";
import { createJsCore } from "./yuma-core-js";

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

/** The module's exports (../assembly/yuma-kernels.ts); addresses are byte offsets, 0 = absent. */
interface Kernels {
  memory: WasmMemory;
  heapBase(): number;
  scatterWeights(
    n: number,
    rowPtr: number,
    cols: number,
    vals: number,
    permit: number,
    rowSlot: number,
    K: number,
    Wld: number,
    lastUpdate: number,
    registeredAt: number,
    Wraw: number,
    weighted: number,
    rowSum: number,
    seen: number,
  ): number;
  oldBondValues(
    n: number,
    rowPtr: number,
    cols: number,
    vals: number,
    resetColumn: number,
    slot: number,
    B: number,
    K: number,
    ld: number,
    oldSum: number,
    seen: number,
  ): number;
  epochColumns(
    n: number,
    K: number,
    Wld: number,
    divisor: number,
    a: number,
    q: number,
    massTotal: number,
    kappa: number,
    penalty: number,
    alpha: number,
    Wraw: number,
    weighted: number,
    oldSum: number,
    B: number,
    ld: number,
    consensus: number,
    R: number,
    preranks: number,
    vt: number,
    bondSum: number,
    bondTop: number,
    score: number,
    wb: number,
    bucketOf: number,
    bucketMass: number,
    candScore: number,
    candMass: number,
  ): void;
  finishBonds(
    B: number,
    ld: number,
    bondSum: number,
    colMax: number,
    imageScale: number,
    K: number,
    n: number,
    rowOf: number,
    incentive: number,
    newPermit: number,
    outCols: number,
    outVals: number,
    count: number,
    dividends: number,
  ): number;
}

const PAGE = 65_536;
/** WebAssembly 32-bit memory ends at 4 GiB. */
const MEMORY_LIMIT = 4 * 1024 ** 3;
const ALIGN = 64;

let kernels: Kernels | undefined;
/** Which epoch owns the memory now: a core whose epoch is not the latest refuses to run. */
let owner = 0;

function loadKernels(): Kernels {
  if (kernels === undefined) {
    const module = new WebAssembly.Module(Buffer.from(YUMA_KERNELS_WASM, "base64"));
    kernels = new WebAssembly.Instance(module, {}).exports as unknown as Kernels;
  }
  return kernels;
}

/** Bump allocation over the module's memory; views are made after the last allocation. */
class Arena {
  private top: number;
  constructor(private readonly k: Kernels) {
    this.top = alignUp(Math.max(k.heapBase(), ALIGN));
  }
  alloc(bytes: number): number {
    const at = this.top;
    this.top = alignUp(at + bytes);
    return at;
  }
  /** Grows the memory to hold every allocation; false when it cannot (over 4 GiB, or refused). */
  fits(): boolean {
    if (this.top > MEMORY_LIMIT) return false;
    const have = this.k.memory.buffer.byteLength;
    if (this.top <= have) return true;
    try {
      this.k.memory.grow(Math.ceil((this.top - have) / PAGE));
      return true;
    } catch (e) {
      if (e instanceof RangeError) return false;
      throw e;
    }
  }
  get buffer(): ArrayBuffer {
    return this.k.memory.buffer;
  }
}

function alignUp(x: number): number {
  return Math.ceil(x / ALIGN) * ALIGN;
}

/** Where each array of one epoch lives in the module's memory. */
type Layout = ReturnType<typeof layOut>;

/** Row strides: of the weight block (u16) and of the bond block (f64); both blocks are row-major. */
function strides(n: number): { Wld: number; ld: number } {
  return { Wld: oddLineStride(n, 32), ld: oddLineStride(n, 8) };
}

function layOut(arena: Arena, s: CoreSetup) {
  const { n, K } = s;
  const { Wld, ld } = strides(n);
  const sparse = (m: SparseU16) => ({
    rowPtr: arena.alloc(4 * (n + 1)),
    cols: arena.alloc(2 * m.cols.length),
    vals: arena.alloc(2 * m.vals.length),
  });
  const f64n = () => arena.alloc(8 * n);
  const f64K = () => arena.alloc(8 * K);
  return {
    w: sparse(s.weights),
    b: s.oldBonds === undefined ? undefined : sparse(s.oldBonds),
    permit: arena.alloc(n),
    rowSlot: arena.alloc(4 * n),
    lastUpdate: s.lastUpdate === undefined ? 0 : f64n(),
    registeredAt: s.registeredAt === undefined ? 0 : f64n(),
    resetColumn: s.resetColumn === undefined ? 0 : arena.alloc(n),
    slot: arena.alloc(4 * n),
    rowOf: arena.alloc(4 * K),
    Wraw: arena.alloc(2 * K * Wld),
    weighted: arena.alloc(n),
    rowSum: f64n(),
    seen: arena.alloc(4 * n),
    B: arena.alloc(8 * K * ld),
    oldSum: s.oldBonds === undefined ? 0 : f64n(),
    divisor: f64K(),
    a: f64K(),
    q: f64K(),
    vt: f64K(),
    // Two columns at a time: the pair's scores, and their bond weights interleaved.
    score: arena.alloc(16 * K),
    wb: arena.alloc(16 * K),
    // A pair's candidates: column j's in the first half, column j + 1's in the second.
    candScore: arena.alloc(16 * K),
    candMass: arena.alloc(16 * K),
    // One byte per slot for each column of a pair, in whole 16-byte chunks.
    bucketOf: arena.alloc(2 * (Math.ceil(K / 16) * 16)),
    // Four interleaved histograms per column of a pair (../assembly/yuma-kernels.ts, pairMedians).
    bucketMass: arena.alloc(8 * 8 * BUCKETS),
    consensus: f64n(),
    R: f64n(),
    preranks: f64n(),
    bondSum: f64n(),
    bondTop: f64n(),
    colMax: f64n(),
    imageScale: f64n(),
    incentive: f64n(),
    dividends: f64n(),
    newPermit: arena.alloc(n),
    // At most one entry per (stored row, column): K · n bounds storedRows · L.
    outCols: arena.alloc(2 * K * n),
    outVals: arena.alloc(2 * K * n),
    count: arena.alloc(4 * K),
  };
}

function copySparse(buf: ArrayBuffer, at: { rowPtr: number; cols: number; vals: number }, m: SparseU16) {
  new Uint32Array(buf, at.rowPtr, m.rowPtr.length).set(m.rowPtr);
  new Uint16Array(buf, at.cols, m.cols.length).set(m.cols);
  new Uint16Array(buf, at.vals, m.vals.length).set(m.vals);
}

/** The WebAssembly core for one epoch (falls back to JavaScript for a Brain over 4 GiB of blocks). */
export function createWasmCore(): EpochCore {
  const k = loadKernels();
  const epoch = ++owner;
  let fallback: EpochCore | undefined;
  let state: { setup: CoreSetup; at: Layout } | undefined;
  const claim = () => {
    if (owner !== epoch) throw new Error("another Yuma epoch has reused the WebAssembly memory");
  };
  return {
    columns(setup: CoreSetup): CoreColumns {
      claim();
      const arena = new Arena(k);
      const at = layOut(arena, setup);
      if (!arena.fits()) {
        fallback = createJsCore();
        return fallback.columns(setup);
      }
      const { n, K } = setup;
      const { Wld, ld } = strides(n);
      const buf = arena.buffer;
      copySparse(buf, at.w, setup.weights);
      if (at.b !== undefined) copySparse(buf, at.b, setup.oldBonds!);
      new Uint8Array(buf, at.permit, n).set(setup.permit);
      const rowSlot = new Int32Array(buf, at.rowSlot, n);
      for (let i = 0; i < n; i++) rowSlot[i] = setup.A[i]! > 0 ? setup.slot[i]! : -1;
      if (setup.lastUpdate !== undefined) new Float64Array(buf, at.lastUpdate, n).set(setup.lastUpdate);
      if (setup.registeredAt !== undefined) new Float64Array(buf, at.registeredAt, n).set(setup.registeredAt);
      if (setup.resetColumn !== undefined) new Uint8Array(buf, at.resetColumn, n).set(setup.resetColumn);
      new Int32Array(buf, at.slot, n).set(setup.slot);
      new Int32Array(buf, at.rowOf, K).set(setup.rowOf);

      let bad = k.scatterWeights(
        n,
        at.w.rowPtr,
        at.w.cols,
        at.w.vals,
        at.permit,
        at.rowSlot,
        K,
        Wld,
        at.lastUpdate,
        at.registeredAt,
        at.Wraw,
        at.weighted,
        at.rowSum,
        at.seen,
      );
      if (bad >= 0) duplicate(setup.weights, bad, n, "weights");
      if (at.b !== undefined) {
        bad = k.oldBondValues(
          n,
          at.b.rowPtr,
          at.b.cols,
          at.b.vals,
          at.resetColumn,
          at.slot,
          at.B,
          K,
          ld,
          at.oldSum,
          at.seen,
        );
        if (bad >= 0) duplicate(setup.oldBonds!, bad, n, "bonds");
      } else {
        new Float64Array(buf, at.B, K * ld).fill(0);
      }

      // Per-slot copies of the per-row inputs (rows without a weight divide 0 by 1: no NaN).
      const rowSum = new Float64Array(buf, at.rowSum, n);
      const divisor = new Float64Array(buf, at.divisor, K);
      const a = new Float64Array(buf, at.a, K);
      const q = new Float64Array(buf, at.q, K);
      for (let s = 0; s < K; s++) {
        const i = setup.rowOf[s]!;
        const sum = rowSum[i]!;
        divisor[s] = setup.A[i]! > 0 && sum > 0 ? sum : 1;
        a[s] = setup.A[i]!;
        q[s] = setup.mass[i]!;
      }
      k.epochColumns(
        n,
        K,
        Wld,
        at.divisor,
        at.a,
        at.q,
        setup.massTotal,
        setup.kappa,
        setup.penalty,
        setup.alpha,
        at.Wraw,
        at.weighted,
        at.oldSum,
        at.B,
        ld,
        at.consensus,
        at.R,
        at.preranks,
        at.vt,
        at.bondSum,
        at.bondTop,
        at.score,
        at.wb,
        at.bucketOf,
        at.bucketMass,
        at.candScore,
        at.candMass,
      );
      state = { setup, at };
      const copy = (p: number, len: number) => new Float64Array(buf, p, len).slice();
      return {
        rowSum: rowSum.slice(),
        consensus: copy(at.consensus, n),
        R: copy(at.R, n),
        preranks: copy(at.preranks, n),
        slotTrust: copy(at.vt, K),
      };
    },

    finish(incentive: Float64Array, newPermit: Uint8Array): CoreBonds {
      if (fallback !== undefined) return fallback.finish(incentive, newPermit);
      if (state === undefined) throw new Error("finish before columns");
      claim();
      const { setup, at } = state;
      const { n, K, rowOf } = setup;
      const { ld } = strides(n);
      const buf = k.memory.buffer;
      const colMax = new Float64Array(buf, at.colMax, n).fill(0);
      const imageScale = new Float64Array(buf, at.imageScale, n).fill(0);
      bondImageScales(
        new Float64Array(buf, at.bondSum, n),
        new Float64Array(buf, at.bondTop, n),
        n,
        colMax,
        imageScale,
      );
      new Float64Array(buf, at.incentive, n).set(incentive);
      new Uint8Array(buf, at.newPermit, n).set(newPermit);
      const pos = k.finishBonds(
        at.B,
        ld,
        at.bondSum,
        at.colMax,
        at.imageScale,
        K,
        n,
        at.rowOf,
        at.incentive,
        at.newPermit,
        at.outCols,
        at.outVals,
        at.count,
        at.dividends,
      );
      const count = new Uint32Array(buf, at.count, K);
      return {
        dividends: new Float64Array(buf, at.dividends, n).slice(),
        bonds: {
          rowPtr: bondRowPointers(n, K, rowOf, count),
          cols: new Uint16Array(buf, at.outCols, pos).slice(),
          vals: new Uint16Array(buf, at.outVals, pos).slice(),
        },
      };
    },
  };
}

/** Throws the JavaScript core's error for a row the kernel found naming a uid twice. */
function duplicate(m: SparseU16, row: number, n: number, what: string): never {
  checkRowUnique(m.cols, m.rowPtr[row]!, m.rowPtr[row + 1]!, n, new Int32Array(n), 1, `${what} row ${row}`);
  throw new Error(`the ${what} kernel reported row ${row} twice-named, but it is not`);
}
