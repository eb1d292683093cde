/**
 * The per-weight passes of the Yuma epoch (../yuma.ts) as WebAssembly, written in AssemblyScript
 * and built by `npm run build:wasm` into ../generated/yuma-kernels-wasm.ts.
 *
 * These are the JavaScript passes of ../yuma-core-js.ts operation for operation: the same IEEE
 * double operations in the same order (WebAssembly, like JavaScript, rounds each basic operation
 * correctly and never fuses them), so both give the same bits; test/oracle/consensus/yuma.test.ts checks it.
 * Where f64x2 lanes carry two columns (or eight u16 values), each lane does its own column's scalar
 * sequence; only sums of integers (exact in any order) are regrouped. What WebAssembly saves is
 * V8's per-access type and bounds checks: all data lives in linear memory at addresses the caller
 * (../yuma-core-wasm.ts) lays out, and nothing here allocates.
 *
 * Pointers of 0 mean "absent" (the caller never places data at address 0).
 */

const BUCKETS: i32 = 64;
const U16_MAX: f64 = 65535;
const IMAGE_MARGIN: f64 = 1e-9;

/** First free address: the caller lays out its arrays from here. */
export function heapBase(): usize {
  return __heap_base;
}

function f64At(p: usize, i: i32): f64 {
  return load<f64>(p + ((<usize>i) << 3));
}
function setF64(p: usize, i: i32, v: f64): void {
  store<f64>(p + ((<usize>i) << 3), v);
}
function i32At(p: usize, i: i32): i32 {
  return load<i32>(p + ((<usize>i) << 2));
}
function u16At(p: usize, i: i32): i32 {
  return <i32>load<u16>(p + ((<usize>i) << 1));
}
function setU16(p: usize, i: i32, v: i32): void {
  store<u16>(p + ((<usize>i) << 1), <u16>v);
}
function u8At(p: usize, i: i32): i32 {
  return <i32>load<u8>(p + <usize>i);
}

/** True when row [from, to) names a uid below n twice (seen: i32 per uid, stamped per row). */
function rowHasDuplicate(cols: usize, from: i32, to: i32, n: i32, seen: usize, stamp: i32): bool {
  for (let e = from; e < to; e++) {
    const j = u16At(cols, e);
    if (j >= n) continue;
    const at = seen + ((<usize>j) << 2);
    if (load<i32>(at) == stamp) return true;
    store<i32>(at, stamp);
  }
  return false;
}

/**
 * A dense run: the eight entries from e name eight consecutive uids j0 … j0 + 7, all above `prev`
 * (so the row still ascends strictly: no uid twice), all below n, none of them `self`, and (when
 * `reset` is given) none a reset column. Returns j0, or −1 when the entries are not such a run.
 * Such a run is what the scalar loop would take entry by entry, with every check passing.
 */
function denseRun(cols: usize, e: i32, prev: i32, n: i32, self: i32, reset: usize): i32 {
  const j0 = u16At(cols, e);
  if (j0 <= prev || j0 + 7 >= n || (self >= j0 && self <= j0 + 7)) return -1;
  const expect = i16x8.add(i16x8.splat(<i16>j0), v128(0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0));
  if (!i16x8.all_true(i16x8.eq(v128.load(cols + ((<usize>e) << 1)), expect))) return -1;
  if (reset != 0 && load<u64>(reset + <usize>j0) != 0) return -1;
  return j0;
}

/**
 * scatterWeights of ../yuma-core-js.ts, into a row-major block: zero-fills Wraw (K rows of Wld
 * u16; slot k's weight on uid j at k·Wld + j) and `weighted` (n), writes
 * the row sums (n f64). `rowSlot[i]` is the slot of row i when it has active stake, else −1.
 * Returns −1, or the first row that names a uid twice.
 */
export function scatterWeights(
  n: i32,
  rowPtr: usize,
  cols: usize,
  vals: usize,
  permit: usize,
  rowSlot: usize,
  K: i32,
  Wld: i32,
  lastUpdate: usize,
  registeredAt: usize,
  Wraw: usize,
  weighted: usize,
  rowSum: usize,
  seen: usize,
): i32 {
  memory.fill(Wraw, 0, <usize>K * <usize>Wld * 2);
  memory.fill(weighted, 0, <usize>n);
  memory.fill(seen, 0, <usize>n * 4);
  const outdatedMask = lastUpdate != 0 && registeredAt != 0;
  let lastRegistration: f64 = -1;
  if (outdatedMask) {
    for (let j = 0; j < n; j++) {
      const r = f64At(registeredAt, j);
      if (r > lastRegistration) lastRegistration = r;
    }
  }
  for (let i = 0; i < n; i++) {
    const keep = u8At(permit, i) == 1;
    const k = i32At(rowSlot, i);
    const lu: f64 = outdatedMask ? f64At(lastUpdate, i) : 0;
    const maskRow = outdatedMask && lu <= lastRegistration;
    // An integer sum: exact, as the JavaScript core's double sum of u16 values is (below 2^53),
    // without its floating-point add latency on every weight.
    let sum: i64 = 0;
    let prev = -1;
    const from = i32At(rowPtr, i);
    const to = i32At(rowPtr, i + 1);
    // Dense runs of a kept row: eight consecutive uids at once (see denseRun).
    const runs = keep && k >= 0 && !maskRow;
    const rowBase = Wraw + ((<usize>k * <usize>Wld) << 1);
    let sums = i32x4.splat(0);
    for (let e = from; e < to; e++) {
      if (runs && e + 8 <= to) {
        const j0 = denseRun(cols, e, prev, n, i, 0);
        if (j0 >= 0) {
          const vv = v128.load(vals + ((<usize>e) << 1));
          v128.store(rowBase + ((<usize>j0) << 1), vv);
          // weighted[j] = 1 where the value is not 0 (bytes already 1 stay 1).
          const at = weighted + <usize>j0;
          const nonzero = i8x16.narrow_i16x8_s(i16x8.ne(vv, i16x8.splat(0)), i16x8.splat(0));
          v128.store64_lane(at, v128.or(v128.load64_zero(at), v128.and(nonzero, i8x16.splat(1))), 0);
          sums = i32x4.add(sums, i32x4.extadd_pairwise_i16x8_u(vv));
          prev = j0 + 7;
          e += 7;
          continue;
        }
      }
      const j = u16At(cols, e);
      if (j >= n) continue;
      if (j > prev) prev = j;
      else if (prev < n) {
        if (rowHasDuplicate(cols, from, to, n, seen, i + 1)) return i;
        prev = n;
      }
      const v = u16At(vals, e);
      if (!keep || v == 0 || j == i || (maskRow && lu <= f64At(registeredAt, j))) continue;
      sum += <i64>v;
      if (k >= 0) {
        setU16(Wraw, k * Wld + j, v);
        store<u8>(weighted + <usize>j, 1);
      }
    }
    // The lanes' partial sums are below the row's sum, which is below 2^32 (unique uids < 65,536).
    sum +=
      <i64>(<u32>i32x4.extract_lane(sums, 0)) +
      <i64>(<u32>i32x4.extract_lane(sums, 1)) +
      <i64>(<u32>i32x4.extract_lane(sums, 2)) +
      <i64>(<u32>i32x4.extract_lane(sums, 3));
    setF64(rowSum, i, <f64>sum);
  }
  return -1;
}

/**
 * oldBondValues of ../yuma-core-js.ts: zero-fills the bond block B (K rows of ld f64) and writes
 * last epoch's raw values (except the reset columns) at B[slot·ld + j], and their column sums
 * (n f64).
 * Returns −1, or the first row that names a uid twice.
 */
export function oldBondValues(
  n: i32,
  rowPtr: usize,
  cols: usize,
  vals: usize,
  resetColumn: usize,
  slot: usize,
  B: usize,
  K: i32,
  ld: i32,
  oldSum: usize,
  seen: usize,
): i32 {
  memory.fill(B, 0, <usize>K * <usize>ld * 8);
  memory.fill(oldSum, 0, <usize>n * 8);
  memory.fill(seen, 0, <usize>n * 4);
  for (let i = 0; i < n; i++) {
    let prev = -1;
    const from = i32At(rowPtr, i);
    const to = i32At(rowPtr, i + 1);
    const base = i32At(slot, i) * ld;
    for (let e = from; e < to; e++) {
      if (e + 8 <= to) {
        const j0 = denseRun(cols, e, prev, n, -1, resetColumn);
        if (j0 >= 0) {
          // Eight values as doubles into the row, and into their columns' sums (each column gets
          // this row's one addition, as in the scalar loop).
          const vv = v128.load(vals + ((<usize>e) << 1));
          const lo = i32x4.extend_low_i16x8_u(vv);
          const hi = i32x4.extend_high_i16x8_u(vv);
          const cell = B + ((<usize>(base + j0)) << 3);
          const sum = oldSum + ((<usize>j0) << 3);
          storeSum(cell, sum, f64x2.convert_low_i32x4_u(lo));
          storeSum(cell + 16, sum + 16, f64x2.convert_low_i32x4_u(upper(lo)));
          storeSum(cell + 32, sum + 32, f64x2.convert_low_i32x4_u(hi));
          storeSum(cell + 48, sum + 48, f64x2.convert_low_i32x4_u(upper(hi)));
          prev = j0 + 7;
          e += 7;
          continue;
        }
      }
      const j = u16At(cols, e);
      if (j >= n) continue;
      if (j > prev) prev = j;
      else if (prev < n) {
        if (rowHasDuplicate(cols, from, to, n, seen, i + 1)) return i;
        prev = n;
      }
      if (resetColumn != 0 && u8At(resetColumn, j) == 1) continue;
      const v = <f64>u16At(vals, e);
      setF64(B, base + j, v);
      setF64(oldSum, j, f64At(oldSum, j) + v);
    }
  }
  return -1;
}

// The column pass's inputs, set by epochColumns for the helpers below.
let gK: i32 = 0;
let gDivisor: usize = 0;
let gA: usize = 0;
let gQ: usize = 0;
let gMassTotal: f64 = 0;
let gMinority: f64 = 0;
let gPenalty: f64 = 0;
let gVt: usize = 0;
let gBucketOf: usize = 0;
let gBucketMass: usize = 0;
let gCandScore: usize = 0;
let gCandMass: usize = 0;

/**
 * epochColumns of ../yuma-core-js.ts. Per slot: divisor, a (active stake), q (median mass); vt
 * (validator trust per slot) is zero-filled here. Wraw: row-major (see scatterWeights). Scratch:
 * score and wb (2·K f64 each, interleaved: slot k's scores and bond weights of a pair of columns at
 * 2k and 2k + 1),
 * candScore, candMass (K f64 each), bucketOf (K u8), bucketMass (4 · 64 f64).
 *
 * Columns go in pairs (j, j + 1) through f64x2 lanes, lane 0 for j and lane 1 for j + 1: each
 * lane does the scalar operations of its column in the same order, so the sums over the slots, the
 * serial chains that bound this pass, run two at a time and give the same bits.
 */
export function epochColumns(
  n: i32,
  K: i32,
  Wld: i32,
  divisor: usize,
  a: usize,
  q: usize,
  massTotal: f64,
  kappa: f64,
  penalty: f64,
  alpha: f64,
  Wraw: usize,
  weighted: usize,
  oldSum: usize,
  B: usize,
  ld: i32,
  consensus: usize,
  R: usize,
  preranks: usize,
  vt: usize,
  bondSum: usize,
  bondTop: usize,
  score: usize,
  wb: usize,
  bucketOf: usize,
  bucketMass: usize,
  candScore: usize,
  candMass: usize,
): void {
  gK = K;
  gDivisor = divisor;
  gA = a;
  gQ = q;
  gMassTotal = massTotal;
  gMinority = massTotal - kappa * massTotal;
  gPenalty = penalty;
  gVt = vt;
  gBucketOf = bucketOf;
  gBucketMass = bucketMass;
  gCandScore = candScore;
  gCandMass = candMass;
  memory.fill(vt, 0, <usize>K * 8);
  memory.fill(consensus, 0, <usize>n * 8);
  memory.fill(R, 0, <usize>n * 8);
  memory.fill(preranks, 0, <usize>n * 8);
  memory.fill(bondSum, 0, <usize>n * 8);
  memory.fill(bondTop, 0, <usize>n * 8);
  const rowStride = (<usize>Wld) << 1;
  for (let j = 0; j < n; j += 2) {
    const pair = j + 1 < n;
    const hasW0 = u8At(weighted, j) == 1;
    const hasW1 = pair && u8At(weighted, j + 1) == 1;
    const so0: f64 = oldSum == 0 ? 0 : f64At(oldSum, j);
    const so1: f64 = oldSum == 0 || !pair ? 0 : f64At(oldSum, j + 1);
    const work0 = hasW0 || so0 > 0;
    const work1 = hasW1 || so1 > 0;
    if (!work0 && !work1) continue; // both columns of B are all zero
    const cell = Wraw + ((<usize>j) << 1);
    let c0: f64 = 0;
    let c1: f64 = 0;
    if (hasW0 && hasW1) {
      pairScores(cell, rowStride, score);
      const max0 = gMax0;
      const max1 = gMax1;
      const zeroMass1 = gZeroMass1;
      const median0 = hasMedian(gZeroMass0);
      const median1 = hasMedian(zeroMass1);
      if (median0 && median1 && K > 32) {
        pairMedians(score, max0, max1);
        c0 = gC0;
        c1 = gC1;
      } else {
        c0 = consensusOf(score, max0, gZeroMass0);
        c1 = consensusOf(score + 8, max1, zeroMass1);
      }
    } else if (hasW0) {
      loneScores(cell, rowStride, score);
      c0 = consensusOf(score, gMax0, gZeroMass0);
    } else if (hasW1) {
      loneScores(cell + 2, rowStride, score + 8);
      c1 = consensusOf(score + 8, gMax0, gZeroMass0);
    }
    let d0: f64 = 0;
    let d1: f64 = 0;
    if (hasW0 && hasW1) {
      clipPair(score, c0, c1, wb);
      d0 = gD0;
      d1 = gD1;
      storeRanks(consensus, R, preranks, j, c0, gR0, gP0);
      storeRanks(consensus, R, preranks, j + 1, c1, gR1, gP1);
    } else if (hasW0) {
      d0 = clipOne(score, c0, wb);
      storeRanks(consensus, R, preranks, j, c0, gR0, gP0);
    } else if (hasW1) {
      d1 = clipOne(score + 8, c1, wb + 8);
      storeRanks(consensus, R, preranks, j + 1, c1, gR0, gP0);
    }
    const use0 = hasW0 && d0 > 0;
    const use1 = hasW1 && d1 > 0;
    if (work0 && work1) {
      emaPair(B + ((<usize>j) << 3), (<usize>ld) << 3, so0, so1, d0, d1, use0, use1, alpha, wb);
      setF64(bondSum, j, gS0);
      setF64(bondTop, j, gTop0);
      setF64(bondSum, j + 1, gS1);
      setF64(bondTop, j + 1, gTop1);
    } else if (work0) {
      emaOne(B + ((<usize>j) << 3), (<usize>ld) << 3, so0, d0, use0, alpha, wb);
      setF64(bondSum, j, gS0);
      setF64(bondTop, j, gTop0);
    } else {
      emaOne(B + ((<usize>(j + 1)) << 3), (<usize>ld) << 3, so1, d1, use1, alpha, wb + 8);
      setF64(bondSum, j + 1, gS0);
      setF64(bondTop, j + 1, gTop0);
    }
  }
}

function storeRanks(consensus: usize, R: usize, preranks: usize, j: i32, c: f64, r: f64, p: f64): void {
  setF64(consensus, j, c);
  setF64(R, j, r);
  setF64(preranks, j, p);
}

let gMax0: f64 = 0;
let gZeroMass0: f64 = 0;
let gMax1: f64 = 0;
let gZeroMass1: f64 = 0;

/**
 * The scores w = raw / divisor of two adjacent columns (cell: column j's weight in slot 0; the
 * next column's is beside it in every row) into score[2k], score[2k + 1]; each column's largest
 * score into gMax0/gMax1 and the mass of its rows without a weight into gZeroMass0/gZeroMass1.
 * The maximum and the masses (integers, so exact sums) do not depend on the order.
 */
function pairScores(cell: usize, rowStride: usize, score: usize): void {
  const K = gK;
  const zero = f64x2.splat(0);
  let maxv = zero;
  let zm = zero;
  let at = cell;
  for (let k = 0; k < K; k++, at += rowStride) {
    const raw = f64x2.convert_low_i32x4_u(i32x4.extend_low_i16x8_u(v128.load32_zero(at)));
    const w = f64x2.div(raw, f64x2.splat(f64At(gDivisor, k)));
    v128.store(score + ((<usize>k) << 4), w);
    maxv = f64x2.pmax(maxv, w);
    zm = f64x2.add(zm, v128.and(f64x2.eq(raw, zero), f64x2.splat(f64At(gQ, k))));
  }
  gMax0 = f64x2.extract_lane(maxv, 0);
  gMax1 = f64x2.extract_lane(maxv, 1);
  gZeroMass0 = f64x2.extract_lane(zm, 0);
  gZeroMass1 = f64x2.extract_lane(zm, 1);
}

/** pairScores for one column: into score[2k] (the caller offsets score to its lane); gMax0, gZeroMass0. */
function loneScores(cell: usize, rowStride: usize, score: usize): void {
  const K = gK;
  let max: f64 = 0;
  let zeroMass: f64 = 0;
  let at = cell;
  for (let k = 0; k < K; k++, at += rowStride) {
    const raw = <i32>load<u16>(at);
    const w = <f64>raw / f64At(gDivisor, k);
    store<f64>(score + ((<usize>k) << 4), w);
    if (w > max) max = w;
    if (raw == 0) zeroMass += f64At(gQ, k);
  }
  gMax0 = max;
  gZeroMass0 = zeroMass;
}

/** Whether a column has a median to find: not when the rows without a weight outweigh the minority. */
function hasMedian(zeroMass: f64): bool {
  return gMassTotal > 0 && !(zeroMass > gMinority);
}

/** A column's consensus from its scores (score[2k]): its median, or 0 (see hasMedian). */
function consensusOf(score: usize, max: f64, zeroMass: f64): f64 {
  if (hasMedian(zeroMass)) return weightedMedian(score, gQ, gK, gMinority, max);
  return 0;
}

let gC0: f64 = 0;
let gC1: f64 = 0;

/**
 * weightedMedian for the two columns of a pair at once (scores interleaved; K > 32): both bucket
 * maps in one pass of f64x2 lanes (the same floor(score · 64 / max), clamped to 63, as the scalar
 * code), and the crossing buckets' entries collected in one more, recomputing the bucket instead of
 * storing it. Each column's candidates keep the slot order. Results in gC0, gC1.
 */
function pairMedians(score: usize, max0: f64, max1: f64): void {
  const K = gK;
  const mass = gQ;
  const minority = gMinority;
  const hist0 = gBucketMass;
  const hist1 = gBucketMass + BUCKETS * 32;
  memory.fill(hist0, 0, <usize>BUCKETS * 64);
  const scale = f64x2.replace_lane(f64x2.splat(<f64>BUCKETS / max0), 1, <f64>BUCKETS / max1);
  const top = i32x4.splat(BUCKETS - 1);
  const bucketOf0 = gBucketOf;
  const bucketOf1 = gBucketOf + alignedSlots(K);
  for (let k = 0; k < K; k++) {
    const b = i32x4.min_s(
      i32x4.trunc_sat_f64x2_s_zero(f64x2.mul(v128.load(score + ((<usize>k) << 4)), scale)),
      top,
    );
    const m = f64At(mass, k);
    const lane = (<usize>(k & 3)) << 9; // four interleaved histograms of 64 f64 per column
    const h0 = hist0 + lane + ((<usize>i32x4.extract_lane(b, 0)) << 3);
    store<f64>(h0, load<f64>(h0) + m);
    const h1 = hist1 + lane + ((<usize>i32x4.extract_lane(b, 1)) << 3);
    store<f64>(h1, load<f64>(h1) + m);
    store<u8>(bucketOf0 + <usize>k, <u8>i32x4.extract_lane(b, 0));
    store<u8>(bucketOf1 + <usize>k, <u8>i32x4.extract_lane(b, 1));
  }
  const star0 = crossingBucket(hist0, minority);
  const base0 = gBase;
  const star1 = crossingBucket(hist1, minority);
  const base1 = gBase;
  const cand0 = gCandScore;
  const mass0 = gCandMass;
  const cand1 = gCandScore + ((<usize>K) << 3);
  const mass1 = gCandMass + ((<usize>K) << 3);
  const n0 = star0 < 0 ? 0 : collect(bucketOf0, star0, score, K, cand0, mass0);
  const n1 = star1 < 0 ? 0 : collect(bucketOf1, star1, score + 8, K, cand1, mass1);
  gC0 = star0 < 0 ? max0 : selectMedian(cand0, mass0, n0, base0, minority);
  gC1 = star1 < 0 ? max1 : selectMedian(cand1, mass1, n1, base1, minority);
}

let gBase: f64 = 0;

/** Lanes 2 and 3 of an i32x4 moved to lanes 0 and 1. */
function upper(x: v128): v128 {
  return i8x16.shuffle(x, x, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
}

/** Two bond values (f64x2) into their cells, and added to their columns' sums. */
function storeSum(cell: usize, sum: usize, v: v128): void {
  v128.store(cell, v);
  v128.store(sum, f64x2.add(v128.load(sum), v));
}

/** K rounded up to whole 16-byte chunks: the stride between the two columns' bucket bytes. */
function alignedSlots(K: i32): usize {
  return (<usize>(K + 15)) & ~(<usize>15);
}

/**
 * The entries of bucket `star` in slot order (bucketOf: one byte per slot, read 16 at a time):
 * their scores (score[2k]) and masses into cand/candMass; returns how many.
 */
function collect(bucketOf: usize, star: i32, score: usize, K: i32, cand: usize, candMass: usize): i32 {
  const want = i8x16.splat(<i8>star);
  let n = 0;
  for (let k0 = 0; k0 < K; k0 += 16) {
    let bits = i8x16.bitmask(i8x16.eq(v128.load(bucketOf + <usize>k0), want));
    if (K - k0 < 16) bits &= (1 << (K - k0)) - 1; // past the last slot
    while (bits != 0) {
      const k = k0 + ctz(bits);
      bits &= bits - 1;
      setF64(cand, n, load<f64>(score + ((<usize>k) << 4)));
      setF64(candMass, n, f64At(gQ, k));
      n++;
    }
  }
  return n;
}

/**
 * The bucket where the cumulative mass first exceeds the minority (−1 if none), summing the four
 * interleaved histograms of one column; the mass below it into gBase.
 */
function crossingBucket(hist: usize, minority: f64): i32 {
  let base: f64 = 0;
  for (let b = 0; b < BUCKETS; b++) {
    const m =
      f64At(hist, b) + f64At(hist, b + BUCKETS) + f64At(hist, b + 2 * BUCKETS) + f64At(hist, b + 3 * BUCKETS);
    if (base + m > minority) {
      gBase = base;
      return b;
    }
    base += m;
  }
  gBase = base;
  return -1;
}

// Second results of the helpers below (AssemblyScript functions return one value).
let gR0: f64 = 0;
let gP0: f64 = 0;
let gR1: f64 = 0;
let gP1: f64 = 0;
let gD0: f64 = 0;
let gD1: f64 = 0;
let gS0: f64 = 0;
let gTop0: f64 = 0;
let gS1: f64 = 0;
let gTop1: f64 = 0;

/**
 * One column (scores at score[2k]): W̄ = min(w, c), R = Σ a·W̄ and P = Σ a·w (into gR0, gP0),
 * vt += W̄, the bond weights x (W̄, w or between, by the penalty) into wb[2k] (the caller offsets
 * both to its lane), and returns d = Σ a·x.
 */
function clipOne(score: usize, c: f64, wb: usize): f64 {
  const K = gK;
  const penalty = gPenalty;
  let r: f64 = 0;
  let p: f64 = 0;
  let d: f64 = 0;
  for (let k = 0; k < K; k++) {
    const w = load<f64>(score + ((<usize>k) << 4));
    const ak = f64At(gA, k);
    const clip = w > c ? c : w;
    r += ak * clip;
    p += ak * w;
    setF64(gVt, k, f64At(gVt, k) + clip);
    const x = penalty == 1 ? clip : penalty == 0 ? w : w + penalty * (clip - w);
    store<f64>(wb + ((<usize>k) << 4), x);
    d += ak * x;
  }
  gR0 = r;
  gP0 = p;
  return d;
}

/** clipOne for two columns at once (lane 0: score[2k] and c0; lane 1: score[2k + 1] and c1). */
function clipPair(score: usize, c0: f64, c1: f64, wb: usize): void {
  const K = gK;
  const penalty = gPenalty;
  const cv = f64x2.replace_lane(f64x2.splat(c0), 1, c1);
  const pv = f64x2.splat(penalty);
  let r = f64x2.splat(0);
  let p = r;
  let d = r;
  for (let k = 0; k < K; k++) {
    const w = v128.load(score + ((<usize>k) << 4));
    const ak = f64x2.splat(f64At(gA, k));
    const clip = v128.bitselect(cv, w, f64x2.gt(w, cv));
    r = f64x2.add(r, f64x2.mul(ak, clip));
    p = f64x2.add(p, f64x2.mul(ak, w));
    // vt sums over the columns in uid order: column j, then j + 1.
    setF64(gVt, k, f64At(gVt, k) + f64x2.extract_lane(clip, 0) + f64x2.extract_lane(clip, 1));
    const x = penalty == 1 ? clip : penalty == 0 ? w : f64x2.add(w, f64x2.mul(pv, f64x2.sub(clip, w)));
    v128.store(wb + ((<usize>k) << 4), x);
    d = f64x2.add(d, f64x2.mul(ak, x));
  }
  gR0 = f64x2.extract_lane(r, 0);
  gR1 = f64x2.extract_lane(r, 1);
  gP0 = f64x2.extract_lane(p, 0);
  gP1 = f64x2.extract_lane(p, 1);
  gD0 = f64x2.extract_lane(d, 0);
  gD1 = f64x2.extract_lane(d, 1);
}

/**
 * One column of the bonds EMA, in place down the bond block (col: its first cell, step: the row
 * stride in bytes): b = (1 − α)·(old / so) (0 when so = 0), plus α·((x·a)/d) where the column has
 * deltas (use) and x > 0; its sum into gS0 and largest value into gTop0.
 */
function emaOne(col: usize, step: usize, so: f64, d: f64, use: bool, alpha: f64, wb: usize): void {
  const K = gK;
  const oneMinusAlpha = 1 - alpha;
  let s: f64 = 0;
  let top: f64 = 0;
  let at = col;
  if (use) {
    for (let k = 0; k < K; k++, at += step) {
      let b: f64 = so > 0 ? oneMinusAlpha * (load<f64>(at) / so) : 0;
      const x = load<f64>(wb + ((<usize>k) << 4));
      if (x > 0) b = alpha * ((x * f64At(gA, k)) / d) + b;
      store<f64>(at, b);
      s += b;
      if (b > top) top = b;
    }
  } else {
    for (let k = 0; k < K; k++, at += step) {
      const b: f64 = so > 0 ? oneMinusAlpha * (load<f64>(at) / so) : 0;
      store<f64>(at, b);
      s += b;
      if (b > top) top = b;
    }
  }
  gS0 = s;
  gTop0 = top;
}

/** emaOne for two adjacent columns at once (their cells are adjacent in each row of the block). */
function emaPair(
  col: usize,
  step: usize,
  so0: f64,
  so1: f64,
  d0: f64,
  d1: f64,
  use0: bool,
  use1: bool,
  alpha: f64,
  wb: usize,
): void {
  const K = gK;
  const zero = f64x2.splat(0);
  const so = f64x2.replace_lane(f64x2.splat(so0), 1, so1);
  const hasOld = f64x2.gt(so, zero);
  const d = f64x2.replace_lane(f64x2.splat(d0), 1, d1);
  const use = i64x2.replace_lane(i64x2.splat(use0 ? -1 : 0), 1, use1 ? -1 : 0);
  const oma = f64x2.splat(1 - alpha);
  const al = f64x2.splat(alpha);
  let s = zero;
  let top = zero;
  let at = col;
  for (let k = 0; k < K; k++, at += step) {
    let b = v128.and(f64x2.mul(oma, f64x2.div(v128.load(at), so)), hasOld);
    const x = v128.load(wb + ((<usize>k) << 4));
    const add = f64x2.add(f64x2.mul(al, f64x2.div(f64x2.mul(x, f64x2.splat(f64At(gA, k))), d)), b);
    b = v128.bitselect(add, b, v128.and(f64x2.gt(x, zero), use));
    v128.store(at, b);
    s = f64x2.add(s, b);
    top = f64x2.pmax(top, b);
  }
  gS0 = f64x2.extract_lane(s, 0);
  gS1 = f64x2.extract_lane(s, 1);
  gTop0 = f64x2.extract_lane(top, 0);
  gTop1 = f64x2.extract_lane(top, 1);
}

/**
 * The weighted median of one column: the smallest score v with Σ{mass : score ≤ v} > minority
 * (see ../yuma-core-js.ts), over scores at score[2k]. The bucket masses are kept in four interleaved histograms, so that
 * consecutive slots landing in one bucket do not wait on each other; the masses are integers, so
 * the four sums add up to the same exact bucket mass.
 */
function weightedMedian(score: usize, mass: usize, K: i32, minority: f64, max: f64): f64 {
  const candScore = gCandScore;
  const candMass = gCandMass;
  if (K <= 32) {
    for (let k = 0; k < K; k++) setF64(candScore, k, load<f64>(score + ((<usize>k) << 4)));
    memory.copy(candMass, mass, <usize>K * 8);
    return selectMedian(candScore, candMass, K, 0, minority);
  }
  const bucketOf = gBucketOf;
  const bucketMass = gBucketMass;
  const scale = <f64>BUCKETS / max;
  memory.fill(bucketMass, 0, <usize>BUCKETS * 32);
  for (let k = 0; k < K; k++) {
    let b = <i32>(load<f64>(score + ((<usize>k) << 4)) * scale);
    if (b >= BUCKETS) b = BUCKETS - 1;
    store<u8>(bucketOf + <usize>k, <u8>b);
    const h = bucketMass + ((<usize>(((k & 3) << 6) + b)) << 3);
    store<f64>(h, load<f64>(h) + f64At(mass, k));
  }
  const star = crossingBucket(bucketMass, minority);
  const base = gBase;
  if (star < 0) return max;
  const c = collect(bucketOf, star, score, K, candScore, candMass);
  return selectMedian(candScore, candMass, c, base, minority);
}

function selectMedian(score: usize, mass: usize, hi: i32, base: f64, minority: f64): f64 {
  const hi0 = hi;
  let lo = 0;
  while (hi > lo) {
    if (hi - lo == 1) return f64At(score, lo);
    const pivot = f64At(score, (lo + hi) >>> 1);
    let lt = lo;
    let i = lo;
    let gt = hi;
    let less: f64 = 0;
    let equal: f64 = 0;
    while (i < gt) {
      const s = f64At(score, i);
      if (s < pivot) {
        const x = f64At(mass, i);
        setF64(score, i, f64At(score, lt));
        setF64(mass, i, f64At(mass, lt));
        setF64(score, lt, s);
        setF64(mass, lt, x);
        less += x;
        lt++;
        i++;
      } else if (s > pivot) {
        gt--;
        const x = f64At(mass, i);
        setF64(score, i, f64At(score, gt));
        setF64(mass, i, f64At(mass, gt));
        setF64(score, gt, s);
        setF64(mass, gt, x);
      } else {
        equal += f64At(mass, i);
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
  let best: f64 = 0;
  for (let t = 0; t < hi0; t++) if (f64At(score, t) > best) best = f64At(score, t);
  return best;
}

/**
 * finishBonds of ../yuma-core-js.ts, given each column's normalized maximum (colMax) and image
 * scale 65535 · (1 / colMax). Writes the dividends per uid (n f64, not yet normalized), the stored
 * entries of the permitted rows (outCols, outVals: u16) and each slot's entry count (count: K u32).
 * Returns the number of entries.
 *
 * Two adjacent columns at a time where both have bonds (f64x2 lanes); the dividend adds column j's
 * product, then column j + 1's, as the scalar loop does.
 */
export function finishBonds(
  B: usize,
  ld: i32,
  bondSum: usize,
  colMax: usize,
  imageScale: usize,
  K: i32,
  n: i32,
  rowOf: usize,
  incentive: usize,
  newPermit: usize,
  outCols: usize,
  outVals: usize,
  count: usize,
  dividends: usize,
): i32 {
  memory.fill(dividends, 0, <usize>n * 8);
  const zero = f64x2.splat(0);
  const low = f64x2.splat(IMAGE_MARGIN);
  const high = f64x2.splat(1 - IMAGE_MARGIN);
  let pos = 0;
  for (let k = 0; k < K; k++) {
    const i = i32At(rowOf, k);
    const base = B + ((<usize>k * <usize>ld) << 3);
    const stored = u8At(newPermit, i) == 1;
    const start = pos;
    let d: f64 = 0;
    let j = 0;
    for (; j + 1 < n; j += 2) {
      const off = (<usize>j) << 3;
      const sv = v128.load(bondSum + off);
      if (!i64x2.all_true(f64x2.ne(sv, zero))) {
        // A column without bonds is skipped; take the pair one column at a time.
        pos = finishCell(base, j, bondSum, colMax, imageScale, incentive, outCols, outVals, stored, pos, d);
        d = gD;
        pos = finishCell(
          base,
          j + 1,
          bondSum,
          colMax,
          imageScale,
          incentive,
          outCols,
          outVals,
          stored,
          pos,
          d,
        );
        d = gD;
        continue;
      }
      const b = f64x2.div(v128.load(base + off), sv);
      const prod = f64x2.mul(b, v128.load(incentive + off));
      d += f64x2.extract_lane(prod, 0);
      d += f64x2.extract_lane(prod, 1);
      if (!stored) continue;
      const image = f64x2.mul(b, v128.load(imageScale + off));
      const whole = i32x4.trunc_sat_f64x2_s_zero(image);
      const fraction = f64x2.sub(image, f64x2.convert_low_i32x4_s(whole));
      let u0 = i32x4.extract_lane(whole, 0);
      let u1 = i32x4.extract_lane(whole, 1);
      if (v128.any_true(v128.or(f64x2.lt(fraction, low), f64x2.gt(fraction, high)))) {
        // Within the margin of an integer: the division decides (see finishCell).
        u0 = imageByDivision(f64x2.extract_lane(b, 0), f64At(colMax, j), f64x2.extract_lane(image, 0), u0);
        u1 = imageByDivision(
          f64x2.extract_lane(b, 1),
          f64At(colMax, j + 1),
          f64x2.extract_lane(image, 1),
          u1,
        );
      }
      setU16(outCols, pos, j);
      setU16(outVals, pos, u0);
      pos += u0 > 0 ? 1 : 0;
      setU16(outCols, pos, j + 1);
      setU16(outVals, pos, u1);
      pos += u1 > 0 ? 1 : 0;
    }
    for (; j < n; j++) {
      pos = finishCell(base, j, bondSum, colMax, imageScale, incentive, outCols, outVals, stored, pos, d);
      d = gD;
    }
    store<u32>(count + ((<usize>k) << 2), <u32>(pos - start));
    setF64(dividends, i, d);
  }
  return pos;
}

let gD: f64 = 0;

/** floor(b / max · 65535) when the multiplied image lands within IMAGE_MARGIN of an integer, else u. */
function imageByDivision(b: f64, max: f64, image: f64, u: i32): i32 {
  const fraction = image - <f64>u;
  if (fraction < IMAGE_MARGIN || fraction > 1 - IMAGE_MARGIN) return <i32>((b / max) * U16_MAX);
  return u;
}

/**
 * One cell of finishBonds, the scalar way: skipped when the column has no bonds; else its share of
 * the dividend (d in, d + b·I into gD) and, for a stored row, its u16 image at `pos`. Returns the
 * new pos.
 */
function finishCell(
  base: usize,
  j: i32,
  bondSum: usize,
  colMax: usize,
  imageScale: usize,
  incentive: usize,
  outCols: usize,
  outVals: usize,
  stored: bool,
  pos: i32,
  d: f64,
): i32 {
  gD = d;
  const s = f64At(bondSum, j);
  if (s == 0) return pos;
  const b = f64At(base, j) / s;
  gD = d + b * f64At(incentive, j);
  if (!stored) return pos;
  // floor(b / max · 65535) by a multiplication: its error is below 1e-10, so unless that lands
  // within IMAGE_MARGIN of an integer it floors to the same u; if it does, divide.
  const image = b * f64At(imageScale, j);
  const u = imageByDivision(b, f64At(colMax, j), image, <i32>image);
  setU16(outCols, pos, j);
  setU16(outVals, pos, u);
  return pos + (u > 0 ? 1 : 0);
}
