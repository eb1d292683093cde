import type { LinearPlanStep, Tensor } from "../../../zkllm/ckks/linear";

/** Inputs in [−1, 1) from a seeded LCG, so failures reproduce. */
export function seededVector(n: number, seed: number): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return (s / 2 ** 31) * 2 - 1;
  });
}

/** The plaintext product a linear step computes (weights are [in, out], row-major). */
export function linearProduct(
  weights: Record<string, Tensor>,
  s: LinearPlanStep,
  x: Float64Array,
): Float64Array {
  const w = weights[s.weight]!;
  const out = new Float64Array(s.outFeatures);
  for (let i = 0; i < s.inFeatures; i++)
    for (let j = 0; j < s.outFeatures; j++) out[j] = out[j]! + x[i]! * w.data[i * s.outFeatures + j]!;
  return out;
}

/** The largest absolute difference between two equally long vectors. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
