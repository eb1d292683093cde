/**
 * Deterministic numeric helpers for the consensus path (docs/architecture.md §4): every result is a pure
 * function of its inputs, bit for bit, on any machine. Only IEEE-754 basic operations
 * (+ − × ÷, comparisons; each correctly rounded to nearest-even in JavaScript, which never fuses a
 * multiply and an add), exact operations (Math.floor/round/min/max on doubles, scaling by powers of
 * two) and integers (BigInt) are used — never Math.exp/pow/log/sqrt, whose last bits may differ
 * between engines.
 */

// ───────────────────────────────────────────── exp ─────────────────────────────────────────────

/** ln 2 split so that k·LN2_HI is exact for |k| < 2^11 (the fdlibm constants). */
const LN2_HI = 6.9314718036912381649e-1;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.442695040888963387;
/** Degree of the Taylor polynomial of e^r on |r| ≤ ln2/2: truncation error < 5·10⁻¹⁸. */
const EXP_DEGREE = 13;
/** 1/k! for k = 0 … EXP_DEGREE, each built by one correctly rounded division per step. */
const INV_FACTORIAL: readonly number[] = (() => {
  const c = [1];
  for (let k = 1; k <= EXP_DEGREE; k++) c.push(c[k - 1]! / k);
  return c;
})();
/** Inputs are clamped to ±EXP_LIMIT, so 2^k stays a normal double. */
const EXP_LIMIT = 700;

const scratch = new DataView(new ArrayBuffer(8));
/** 2^k for an integer −1022 ≤ k ≤ 1023, built from its bits (exact). */
function pow2(k: number): number {
  scratch.setUint32(0, (k + 1023) << 20);
  scratch.setUint32(4, 0);
  return scratch.getFloat64(0);
}

/**
 * e^x with basic operations only: k = round(x / ln 2), r = x − k·ln 2 (Cody–Waite, two-part
 * ln 2), e^r by a degree-13 Taylor polynomial in Horner form, times 2^k. Accurate to a few ulp;
 * the input is clamped to [−700, 700] (e^±700 is far beyond anything consensus needs). NaN in,
 * NaN out.
 */
export function expDet(x: number): number {
  if (x !== x) return NaN;
  if (x > EXP_LIMIT) x = EXP_LIMIT;
  else if (x < -EXP_LIMIT) x = -EXP_LIMIT;
  const k = Math.round(x * INV_LN2);
  const r = x - k * LN2_HI - k * LN2_LO;
  let p = INV_FACTORIAL[EXP_DEGREE]!;
  for (let d = EXP_DEGREE - 1; d >= 0; d--) p = p * r + INV_FACTORIAL[d]!;
  return p * pow2(k);
}

/** The logistic function 1 / (1 + e^(−x)), with `expDet`. */
export function sigmoidDet(x: number): number {
  return 1 / (1 + expDet(-x));
}

// ───────────────────────────────────────── apportionment ─────────────────────────────────────────

/** Shares are quantized to integers on this grid before the exact integer split. */
export const SHARE_SCALE = 2 ** 60;

/**
 * Splits `total` (an integer amount, e.g. wei) in proportion to `shares` (finite, ≥ 0 doubles,
 * typically normalized to sum to 1), exactly: the parts sum to `total`.
 *
 * The rule (largest remainder, Hamilton's method):
 *  1. each share becomes an integer weight q_k = floor(share_k · 2^60) (exact: a power-of-two
 *     scaling, a floor and a BigInt conversion; shares below 2^−60 count as 0);
 *  2. with Q = Σ q_k, part_k = floor(total · q_k / Q) and remainder_k = total · q_k mod Q;
 *  3. the L = total − Σ part_k wei left over (L < the number of non-zero remainders) go one each to
 *     the L slots with the largest remainder, ties to the lower index.
 *
 * Throws when no share is positive (the caller must decide who gets the amount then).
 */
export function apportion(total: bigint, shares: ArrayLike<number>): bigint[] {
  if (total < 0n) throw new RangeError("the amount to split is negative");
  const m = shares.length;
  const q: bigint[] = new Array<bigint>(m);
  let sumQ = 0n;
  for (let k = 0; k < m; k++) {
    const s = shares[k]!;
    if (!(s >= 0) || s === Infinity) throw new RangeError(`share ${k} is ${s}, not a finite number ≥ 0`);
    const w = s > 0 ? BigInt(Math.floor(s * SHARE_SCALE)) : 0n;
    q[k] = w;
    sumQ += w;
  }
  if (sumQ === 0n) throw new RangeError("no positive share to split the amount by");
  const parts: bigint[] = new Array<bigint>(m);
  const rem: bigint[] = new Array<bigint>(m);
  const withRemainder: number[] = [];
  let given = 0n;
  for (let k = 0; k < m; k++) {
    const w = q[k]!;
    if (w === 0n) {
      parts[k] = 0n;
      rem[k] = 0n;
      continue;
    }
    const prod = total * w;
    const part = prod / sumQ;
    const r = prod - part * sumQ;
    parts[k] = part;
    rem[k] = r;
    given += part;
    if (r > 0n) withRemainder.push(k);
  }
  const left = Number(total - given);
  if (left > 0) {
    withRemainder.sort((a, b) => {
      const ra = rem[a]!;
      const rb = rem[b]!;
      return ra > rb ? -1 : ra < rb ? 1 : a - b;
    });
    for (let t = 0; t < left; t++) {
      const k = withRemainder[t]!;
      parts[k] = parts[k]! + 1n;
    }
  }
  return parts;
}
