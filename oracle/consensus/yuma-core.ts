/**
 * The per-weight middle of a Yuma epoch (./yuma.ts), behind one interface with two
 * implementations that give the same bits:
 *  - ./yuma-core-wasm.ts, the default: WebAssembly built from ./assembly/yuma-kernels.ts;
 *  - ./yuma-core-js.ts: the same passes in JavaScript, the reference the WebAssembly is tested
 *    against and the fallback where WebAssembly memory cannot hold a (very large) Brain.
 *
 * An epoch uses a core in two steps, because the incentive sits between them: `columns` (masks,
 * row sums, consensus, clipping, ranks, trust, the bonds EMA) and then `finish` (bonds normalized,
 * dividends, the stored u16 bonds).
 */

export const U16_MAX = 65_535;

/** A sparse n×n matrix of u16 values in compressed rows (row i: entries rowPtr[i] … rowPtr[i+1]−1). */
export interface SparseU16 {
  readonly rowPtr: Uint32Array;
  readonly cols: Uint16Array;
  readonly vals: Uint16Array;
}
/** Buckets of the first, approximate pass of the median (see `weightedMedian`). */
export const BUCKETS = 64;
/**
 * How near an integer the u16 image computed by multiplication may land before the division decides
 * (finishBonds): 10⁴ times the multiplication's largest error.
 */
export const IMAGE_MARGIN = 1e-9;

/** What the columns step reads; the arrays are per uid (n) unless said otherwise. */
export interface CoreSetup {
  n: number;
  /** Working rows (slots): the uids with active stake or last epoch's bonds, in uid order. */
  K: number;
  weights: SparseU16;
  oldBonds: SparseU16 | undefined;
  permit: Uint8Array;
  /** Active stake (0: no row in the weight block). */
  A: Float64Array;
  /** Slot of each uid, −1 for none. */
  slot: Int32Array;
  /** Uid of each slot (K). */
  rowOf: Int32Array;
  /** Median masses: floor(A · 2^42), exact integers. */
  mass: Float64Array;
  massTotal: number;
  kappa: number;
  penalty: number;
  /** 1 − bondsMovingAverage: the weight of this epoch's bond deltas. */
  alpha: number;
  lastUpdate: Float64Array | undefined;
  registeredAt: Float64Array | undefined;
  /** Bond columns to reset (uids registered within the last tempo), or undefined for none. */
  resetColumn: Uint8Array | undefined;
}

export interface CoreColumns {
  /** Row sums of the masked raw weights (exact integers; 0 for rows without a permit). */
  rowSum: Float64Array;
  consensus: Float64Array;
  /** Ranks Σ A·W̄ and preranks Σ A·W, per column. */
  R: Float64Array;
  preranks: Float64Array;
  /** Σ W̄ per slot (K): the validator trust of the rows with active stake. */
  slotTrust: Float64Array;
}

export interface CoreBonds {
  /** D_i = Σ_j b_ij · I_j per uid, not yet normalized. */
  dividends: Float64Array;
  bonds: SparseU16;
}

export interface EpochCore {
  /** Throws a RangeError naming the row when a row of weights or bonds names a uid twice. */
  columns(setup: CoreSetup): CoreColumns;
  finish(incentive: Float64Array, newPermit: Uint8Array): CoreBonds;
}

/**
 * Refuses a row that names a uid (< n) twice. Rows whose uids ascend strictly (as the chain packs
 * them) are checked by the callers' running comparison alone; others come here once.
 */
export function checkRowUnique(
  cols: Uint16Array,
  from: number,
  to: number,
  n: number,
  seen: Int32Array,
  stamp: number,
  what: string,
): void {
  for (let e = from; e < to; e++) {
    const j = cols[e]!;
    if (j >= n) continue;
    if (seen[j] === stamp) throw new RangeError(`${what} names uid ${j} twice`);
    seen[j] = stamp;
  }
}

/**
 * Per bond column with a non-zero sum (the others hold only zeros): its normalized maximum and the
 * scale of its u16 image, 65535 · (1 / max); and how many such columns there are.
 */
export function bondImageScales(
  bondSum: Float64Array,
  bondTop: Float64Array,
  n: number,
  colMax: Float64Array,
  imageScale: Float64Array,
): number {
  let L = 0;
  for (let j = 0; j < n; j++) {
    const s = bondSum[j]!;
    if (s > 0) {
      L++;
      colMax[j] = bondTop[j]! / s;
      imageScale[j] = U16_MAX * (1 / colMax[j]!);
    }
  }
  return L;
}

/** Rows that keep bonds: the slots whose uid has a new permit. */
export function storedRowCount(K: number, rowOf: Int32Array, newPermit: Uint8Array): number {
  let rows = 0;
  for (let k = 0; k < K; k++) rows += newPermit[rowOf[k]!]!;
  return rows;
}

/** Row pointers over all n uids from the entry counts of the slots. */
export function bondRowPointers(n: number, K: number, rowOf: Int32Array, count: Uint32Array): Uint32Array {
  const outPtr = new Uint32Array(n + 1);
  for (let i = 0, k = 0; i < n; i++) {
    let c = 0;
    if (k < K && rowOf[k] === i) c = count[k++]!;
    outPtr[i + 1] = outPtr[i]! + c;
  }
  return outPtr;
}

/**
 * The smallest stride ≥ len (in elements, `perLine` to a 64-byte cache line) that spans an odd
 * number of lines. Walking across a block at a stride of an even number of lines — a power of two
 * above all — would map every access to a few cache sets and evict itself.
 */
export function oddLineStride(len: number, perLine: number): number {
  let lines = Math.ceil(len / perLine);
  if (lines % 2 === 0) lines++;
  return lines * perLine;
}
