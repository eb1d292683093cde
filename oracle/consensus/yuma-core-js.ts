/**
 * The per-weight passes of a Yuma epoch in JavaScript (see ./yuma-core.ts): the reference that the
 * WebAssembly core (./assembly/yuma-kernels.ts) matches bit for bit, and the fallback for Brains
 * too large for WebAssembly memory.
 *
 * Layout (for speed; bench/yuma-bench.ts). The raw weights of the rows with active stake are
 * scattered once into a column-major u16 block, and last epoch's bonds into a row-major bond block.
 * One pass over the columns then does, per column, the scores, the median (a 64-bucket pass, then
 * exact selection within the crossing bucket), clipping, ranks, trust and the bond deltas (added
 * into the bond block); one pass over the rows normalizes the bonds, sums the dividends and writes
 * the u16 image straight into the output rows. The image floor(b / max · 65535) is taken from a
 * multiplication by 65535 / max, whose error is below 1e-10: only when that lands within 1e-9 of an
 * integer (the column's maximum, say) is the division done, so the result is always the division's.
 * Block strides span an odd number of cache lines (oddLineStride). Large working arrays
 * are reused between calls (module-level scratch, always overwritten before being read).
 */
import * as core from "./yuma-core";
import {
  type CoreBonds,
  type CoreColumns,
  type CoreSetup,
  type EpochCore,
  type SparseU16,
  bondImageScales,
  bondRowPointers,
  checkRowUnique,
  oddLineStride,
  storedRowCount,
} from "./yuma-core";

// Local copies: compiled to CommonJS, an imported binding is read through a getter on the module's
// exports on every use, which in the per-weight loops below costs more than the work itself.
const BUCKETS = core.BUCKETS;
const IMAGE_MARGIN = core.IMAGE_MARGIN;
const U16_MAX = core.U16_MAX;

/** The JavaScript core for one epoch. */
export function createJsCore(): EpochCore {
  let state:
    | { setup: CoreSetup; ld: number; B: Float64Array; bondSum: Float64Array; bondTop: Float64Array }
    | undefined;
  return {
    columns(setup: CoreSetup): CoreColumns {
      const { n, K, weights, oldBonds, permit, A, slot, rowOf, lastUpdate, registeredAt } = setup;
      // A column-major weight block and a row-major bond block.
      const Kp = oddLineStride(K, 32);
      const ld = oddLineStride(n, 8);
      const Wraw = scratchU16("weights", Kp * n).fill(0);
      const weighted = new Uint8Array(n);
      const rowSum = scatterWeights(
        weights,
        n,
        permit,
        A,
        slot,
        Kp,
        lastUpdate,
        registeredAt,
        Wraw,
        weighted,
      );
      const B = scratchF64("bonds", K * ld).fill(0);
      const oldSum =
        oldBonds === undefined ? undefined : oldBondValues(oldBonds, n, setup.resetColumn, slot, B, ld);
      const out: CoreColumns = {
        rowSum,
        consensus: new Float64Array(n),
        R: new Float64Array(n),
        preranks: new Float64Array(n),
        slotTrust: new Float64Array(K),
      };
      const bondSum = new Float64Array(n);
      const bondTop = new Float64Array(n);
      epochColumns({
        ...setup,
        Kp,
        ld,
        rowOf,
        Wraw,
        weighted,
        oldSum,
        B,
        bondSum,
        bondTop,
        ...out,
        vt: out.slotTrust,
      });
      state = { setup, ld, B, bondSum, bondTop };
      return out;
    },
    finish(incentive: Float64Array, newPermit: Uint8Array): CoreBonds {
      if (state === undefined) throw new Error("finish before columns");
      const { setup, ld, B, bondSum, bondTop } = state;
      return finishBonds(B, ld, bondSum, bondTop, setup.K, setup.n, setup.rowOf, incentive, newPermit);
    },
  };
}

/**
 * Large working arrays (one entry per weight, or per bond cell) are kept between calls and reused,
 * so an epoch does not pay for fresh zeroed pages each time. They never leave this module and every
 * use overwrites (or zero-fills) what it reads, so results do not depend on earlier calls.
 */
const pool = {
  f64: new Map<string, Float64Array>(),
  u16: new Map<string, Uint16Array>(),
  u8: new Map<string, Uint8Array>(),
};
function scratchF64(name: string, size: number): Float64Array {
  let a = pool.f64.get(name);
  if (a === undefined || a.length < size) pool.f64.set(name, (a = new Float64Array(Math.max(size, 1024))));
  return a.subarray(0, size);
}
function scratchU16(name: string, size: number): Uint16Array {
  let a = pool.u16.get(name);
  if (a === undefined || a.length < size) pool.u16.set(name, (a = new Uint16Array(Math.max(size, 1024))));
  return a.subarray(0, size);
}
function scratchU8(name: string, size: number): Uint8Array {
  let a = pool.u8.get(name);
  if (a === undefined || a.length < size) pool.u8.set(name, (a = new Uint8Array(Math.max(size, 1024))));
  return a.subarray(0, size);
}

/**
 * Applies the masks (no permit: row dropped; self-weight; uid ≥ n; value 0; set before j
 * registered) and sums each row; the raw u16 values of the rows with active stake go into the
 * column-major block Wraw[j·Kp + slot] (zero where there is no weight), and `weighted[j]` marks the
 * columns that got any. Duplicate uids are refused. Returns the row sums (exact integers; 0 for rows
 * without a permit).
 */
function scatterWeights(
  m: SparseU16,
  n: number,
  permit: Uint8Array,
  A: Float64Array,
  slot: Int32Array,
  Kp: number,
  lastUpdate: Float64Array | undefined,
  registeredAt: Float64Array | undefined,
  Wraw: Uint16Array,
  weighted: Uint8Array,
): Float64Array {
  const { rowPtr, cols, vals } = m;
  const outdatedMask = lastUpdate !== undefined && registeredAt !== undefined;
  let lastRegistration = -1;
  if (outdatedMask)
    for (let j = 0; j < n; j++) lastRegistration = Math.max(lastRegistration, registeredAt[j]!);
  const rowSum = new Float64Array(n);
  const seen = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const keep = permit[i] === 1;
    const k = A[i]! > 0 ? slot[i]! : -1;
    const lu = outdatedMask ? lastUpdate[i]! : 0;
    // Weights set after every registration are never outdated: no per-weight lookup then.
    const maskRow = outdatedMask && lu <= lastRegistration;
    let sum = 0;
    let prev = -1;
    const from = rowPtr[i]!;
    const to = rowPtr[i + 1]!;
    for (let e = from; e < to; e++) {
      const j = cols[e]!;
      if (j >= n) continue; // weights on uids that do not exist are ignored, as subtensor does
      if (j > prev) prev = j;
      else if (prev < n) {
        checkRowUnique(cols, from, to, n, seen, i + 1, `weights row ${i}`);
        prev = n; // checked
      }
      const v = vals[e]!;
      if (!keep || v === 0 || j === i || (maskRow && lu <= registeredAt[j]!)) continue;
      sum += v;
      if (k >= 0) {
        Wraw[j * Kp + k] = v;
        weighted[j] = 1;
      }
    }
    rowSum[i] = sum;
  }
  return rowSum;
}

/**
 * Last epoch's bonds without the reset columns: checks them, writes their raw u16 values into the
 * row-major block B[slot·ld + j] (the column loop normalizes them) and returns their column sums
 * (exact integers).
 */
function oldBondValues(
  old: SparseU16,
  n: number,
  resetColumn: Uint8Array | undefined,
  slot: Int32Array,
  B: Float64Array,
  ld: number,
): Float64Array {
  const { rowPtr, cols, vals } = old;
  const oldSum = new Float64Array(n);
  const seen = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let prev = -1;
    const from = rowPtr[i]!;
    const to = rowPtr[i + 1]!;
    const base = slot[i]! * ld; // rows with entries all have a slot
    for (let e = from; e < to; e++) {
      const j = cols[e]!;
      if (j >= n) continue;
      if (j > prev) prev = j;
      else if (prev < n) {
        checkRowUnique(cols, from, to, n, seen, i + 1, `bonds row ${i}`);
        prev = n;
      }
      if (resetColumn !== undefined && resetColumn[j] === 1) continue;
      const v = vals[e]!;
      B[base + j] = v;
      oldSum[j] = oldSum[j]! + v;
    }
  }
  return oldSum;
}

interface ColumnsJob {
  n: number;
  /** Working rows (slots), and the uid of each. */
  K: number;
  /** Column stride of Wraw. */
  Kp: number;
  rowOf: Int32Array;
  rowSum: Float64Array;
  A: Float64Array;
  mass: Float64Array;
  massTotal: number;
  kappa: number;
  penalty: number;
  alpha: number;
  Wraw: Uint16Array;
  weighted: Uint8Array;
  oldSum: Float64Array | undefined;
  /** The bond block, row-major (row stride ld): last epoch's raw values in, the EMA out. */
  B: Float64Array;
  ld: number;
  // outputs
  consensus: Float64Array;
  R: Float64Array;
  preranks: Float64Array;
  /** Σ W̄ per slot. */
  vt: Float64Array;
  /** Per column of B: its sum and its largest value. */
  bondSum: Float64Array;
  bondTop: Float64Array;
}

/**
 * Everything per column j, one column at a time (its working data stays in cache):
 *  - scores w_kj = value / row sum; consensus C_j = the stake-weighted median (rows without a weight
 *    score 0: C_j = the smallest score v whose mass of rows scoring ≤ v exceeds Q − κ·Q);
 *  - W̄ = min(w, C_j) (without a data-dependent branch: f ∈ {0, 1}, so C·f + w·(1 − f) is exactly
 *    C or w); R_j = Σ A·W̄, preranks P_j = Σ A·w, validator trust += W̄;
 *  - the bonds EMA: last epoch's column normalized, times (1 − α), plus α times the bond deltas
 *    A·W_b normalized; the column's sum and largest value.
 * Every sum runs over the slots in uid order; slots without a weight (or a bond) add exact zeros,
 * which change no sum, maximum or median.
 */
function epochColumns(job: ColumnsJob): void {
  const { n, K, Kp, rowOf, mass, massTotal, kappa, penalty, alpha, Wraw, weighted, oldSum, B, ld } = job;
  const { consensus, R, preranks, vt, bondSum, bondTop } = job;
  const minority = massTotal - kappa * massTotal;
  const oneMinusAlpha = 1 - alpha;
  // Per-slot copies of the per-row inputs (rows without a weight divide 0 by 1: no NaN).
  const divisor = new Float64Array(K);
  const a = new Float64Array(K);
  const q = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const i = rowOf[k]!;
    const s = job.rowSum[i]!;
    divisor[k] = job.A[i]! > 0 && s > 0 ? s : 1;
    a[k] = job.A[i]!;
    q[k] = mass[i]!;
  }
  const score = scratchF64("colScore", K);
  const wb = scratchF64("colBondWeight", K);
  const bucketOf = scratchU8("colBucket", K);
  const bucketMass = new Float64Array(BUCKETS);
  const candScore = scratchF64("candScore", K);
  const candMass = scratchF64("candMass", K);
  for (let j = 0; j < n; j++) {
    const hasW = weighted[j] === 1;
    if (!hasW && !(oldSum !== undefined && oldSum[j]! > 0)) continue; // the column of B is all zero
    let d = 0;
    if (hasW) {
      const col = j * Kp;
      let max = 0;
      let zeroMass = 0; // of the rows without a weight on j (exact: integers); Σ over all slots is Q
      for (let k = 0; k < K; k++) {
        const raw = Wraw[col + k]!;
        const w = raw / divisor[k]!;
        score[k] = w;
        if (w > max) max = w;
        if (raw === 0) zeroMass += q[k]!;
      }
      let c = 0;
      // The median is 0 when the rows without a weight on j already outweigh the minority.
      if (massTotal > 0 && !(zeroMass > minority)) {
        c = weightedMedian(score, q, K, minority, max, bucketOf, bucketMass, candScore, candMass);
      }
      let r = 0;
      let p = 0;
      for (let k = 0; k < K; k++) {
        const w = score[k]!;
        const ak = a[k]!;
        const f = +(w > c);
        const clip = c * f + w * (1 - f);
        r += ak * clip;
        p += ak * w;
        vt[k] = vt[k]! + clip;
        const x = penalty === 1 ? clip : penalty === 0 ? w : w + penalty * (clip - w);
        wb[k] = x;
        d += ak * x;
      }
      consensus[j] = c;
      R[j] = r;
      preranks[j] = p;
    }
    // B = (1 − α)·(last epoch's bonds, column-normalized) + α·(the deltas, normalized); then the
    // column's sum and largest value.
    const so = oldSum === undefined ? 0 : oldSum[j]!; // 0: the column of old bonds is all zero
    let s = 0;
    let top = 0;
    if (hasW && d > 0) {
      for (let k = 0, at = j; k < K; k++, at += ld) {
        let b = so > 0 ? oneMinusAlpha * (B[at]! / so) : 0;
        const x = wb[k]!;
        if (x > 0) b = alpha * ((x * a[k]!) / d) + b;
        B[at] = b;
        s += b;
        if (b > top) top = b;
      }
    } else {
      for (let k = 0, at = j; k < K; k++, at += ld) {
        const b = so > 0 ? oneMinusAlpha * (B[at]! / so) : 0;
        B[at] = b;
        s += b;
        if (b > top) top = b;
      }
    }
    bondSum[j] = s;
    bondTop[j] = top;
  }
}

/**
 * The weighted median of one column: the smallest score v with Σ{mass : score ≤ v} > minority.
 * The masses are integers below 2^53, so every partial sum is exact and the result does not depend
 * on the order of the rows (nor on how the search proceeds). A first pass spreads the scores over
 * BUCKETS buckets by floor(score · BUCKETS / max) — a monotone map, so every bucket holds a
 * contiguous range of scores — and finds the bucket where the cumulative mass crosses `minority`;
 * the exact selection then runs on that bucket's entries only.
 */
function weightedMedian(
  score: Float64Array,
  mass: Float64Array,
  K: number,
  minority: number,
  max: number,
  bucketOf: Uint8Array,
  bucketMass: Float64Array,
  candScore: Float64Array,
  candMass: Float64Array,
): number {
  if (K <= 32) {
    candScore.set(score.subarray(0, K));
    candMass.set(mass.subarray(0, K));
    return selectMedian(candScore, candMass, K, 0, minority);
  }
  const scale = BUCKETS / max;
  bucketMass.fill(0);
  for (let k = 0; k < K; k++) {
    let b = (score[k]! * scale) | 0;
    if (b >= BUCKETS) b = BUCKETS - 1;
    bucketOf[k] = b;
    bucketMass[b] = bucketMass[b]! + mass[k]!;
  }
  let base = 0;
  let star = -1;
  for (let b = 0; b < BUCKETS; b++) {
    if (base + bucketMass[b]! > minority) {
      star = b;
      break;
    }
    base += bucketMass[b]!;
  }
  if (star < 0) return max; // only reachable through the rounding of κ·Q
  let c = 0;
  for (let k = 0; k < K; k++) {
    if (bucketOf[k] === star) {
      candScore[c] = score[k]!;
      candMass[c] = mass[k]!;
      c++;
    }
  }
  return selectMedian(candScore, candMass, c, base, minority);
}

/**
 * Smallest score v in [0, hi) with base + Σ{mass : score ≤ v} > minority: selection with a middle
 * pivot and a 3-way partition (in place, moving scores and their masses together).
 */
function selectMedian(
  score: Float64Array,
  mass: Float64Array,
  hi: number,
  base: number,
  minority: number,
): number {
  const hi0 = hi;
  let lo = 0;
  while (hi > lo) {
    if (hi - lo === 1) return score[lo]!;
    const pivot = score[(lo + hi) >>> 1]!;
    let lt = lo;
    let i = lo;
    let gt = hi;
    let less = 0;
    let equal = 0;
    while (i < gt) {
      const s = score[i]!;
      if (s < pivot) {
        const x = mass[i]!;
        score[i] = score[lt]!;
        mass[i] = mass[lt]!;
        score[lt] = s;
        mass[lt] = x;
        less += x;
        lt++;
        i++;
      } else if (s > pivot) {
        gt--;
        const x = mass[i]!;
        score[i] = score[gt]!;
        mass[i] = mass[gt]!;
        score[gt] = s;
        mass[gt] = x;
      } else {
        equal += mass[i]!;
        i++;
      }
    }
    if (base + less > minority) hi = lt;
    else if (base + less + equal > minority) return pivot;
    else {
      base += less + equal;
      lo = gt;
    }
  }
  // Only reachable through the rounding of κ·Q: the largest score.
  let best = 0;
  for (let t = 0; t < hi0; t++) if (score[t]! > best) best = score[t]!;
  return best;
}

/**
 * Row by row over the bond block: each column normalized (b = B / column sum); dividends
 * D_k = Σ_j b_kj · I_j (columns in uid order; the caller normalizes them); the stored bonds are the u16
 * image floor(b / max_j · 65535) (column-max-upscaled: the largest normalized value of a column is
 * its largest raw value over the same sum, the same double), for rows with a new permit, zero
 * entries left out, rows in uid order and each row's uids ascending.
 */
function finishBonds(
  B: Float64Array,
  ld: number,
  bondSum: Float64Array,
  bondTop: Float64Array,
  K: number,
  n: number,
  rowOf: Int32Array,
  incentive: Float64Array,
  newPermit: Uint8Array,
): CoreBonds {
  const colMax = new Float64Array(n);
  const imageScale = new Float64Array(n);
  const L = bondImageScales(bondSum, bondTop, n, colMax, imageScale);
  const storedRows = storedRowCount(K, rowOf, newPermit);
  const tmpCols = scratchU16("outCols", storedRows * L);
  const tmpVals = scratchU16("outVals", storedRows * L);
  const count = new Uint32Array(K);
  const dividends = new Float64Array(n);
  let pos = 0;
  for (let k = 0; k < K; k++) {
    const i = rowOf[k]!;
    const base = k * ld;
    let d = 0;
    if (newPermit[i] === 1) {
      const start = pos;
      for (let j = 0; j < n; j++) {
        const s = bondSum[j]!;
        if (s === 0) continue;
        const b = B[base + j]! / s;
        d += b * incentive[j]!;
        // floor(b / max · 65535) by a multiplication: its error is below 1e-10, so unless that
        // lands within IMAGE_MARGIN of an integer it floors to the same u; if it does, divide.
        const image = b * imageScale[j]!;
        let u = image | 0;
        const fraction = image - u;
        if (fraction < IMAGE_MARGIN || fraction > 1 - IMAGE_MARGIN) u = ((b / colMax[j]!) * U16_MAX) | 0;
        tmpCols[pos] = j;
        tmpVals[pos] = u;
        pos += +(u > 0);
      }
      count[k] = pos - start;
    } else {
      for (let j = 0; j < n; j++) {
        const s = bondSum[j]!;
        if (s !== 0) d += (B[base + j]! / s) * incentive[j]!;
      }
    }
    dividends[i] = d;
  }
  const outPtr = bondRowPointers(n, K, rowOf, count);
  return {
    dividends,
    bonds: { rowPtr: outPtr, cols: tmpCols.slice(0, pos), vals: tmpVals.slice(0, pos) },
  };
}
