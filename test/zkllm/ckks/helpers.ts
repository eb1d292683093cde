import type { Tensor, WeightLayout } from "../../../zkllm/ckks/linear";

/** A seeded PRNG (mulberry32) in [-0.5, 0.5), so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

/** A random weight tensor in the given storage layout, scaled like GPT-2 weights (|w| ≤ 0.1). */
export function randomWeight(out: number, inF: number, layout: WeightLayout, seed: number): Tensor {
  const r = rng(seed);
  return {
    shape: layout === "out-in" ? [out, inF] : [inF, out],
    data: Float32Array.from({ length: out * inF }, () => r() * 0.2),
  };
}

export function randomVector(n: number, seed: number, scale = 1): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => r() * 2 * scale);
}

/** Plain W·x + b for every token (the reference the encrypted results are compared with). */
export function matvec(
  weight: Tensor,
  layout: WeightLayout,
  bias: Tensor | undefined,
  x: readonly ArrayLike<number>[],
  rows?: readonly number[],
): Float64Array[] {
  const [d0, d1] = weight.shape as [number, number];
  const out = layout === "out-in" ? d0 : d1;
  const inF = layout === "out-in" ? d1 : d0;
  const selected = rows ?? Array.from({ length: out }, (_, i) => i);
  return x.map((v) =>
    Float64Array.from(selected, (r) => {
      let s = bias ? (bias.data[r] as number) : 0;
      for (let c = 0; c < inF; c++) {
        const w = layout === "out-in" ? weight.data[r * inF + c] : weight.data[c * out + r];
        s += (w as number) * (v[c] as number);
      }
      return s;
    }),
  );
}

export function maxAbsDiff(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number {
  let m = 0;
  a.forEach((row, t) => {
    for (let i = 0; i < row.length; i++)
      m = Math.max(m, Math.abs((row[i] as number) - (b[t]?.[i] as number)));
  });
  return m;
}
