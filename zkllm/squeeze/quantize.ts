/**
 * Cerberus Squeezing, stage 1: dynamic quantization with adaptive scaling (whitepaper §5.1),
 * applied by the client to activations before they are encrypted.
 *
 * For an N×M tensor X (N samples, M features), per sample i:
 *   σ_i = sqrt( (1/M) Σ_j (x_ij − μ_i)² )                     (population standard deviation)
 *   S_i = α if σ_i > T, else 1/α                               (adaptive scale)
 *   y_ij = S_i · x_ij                                           (scaled sample)
 *   Q_i = (max_j y_ij − min_j y_ij) / (L − 1)                  (step between L levels)
 *   q_ij = ⌊(y_ij − min_i) / Q_i⌋ · Q_i + min_i                (the paper's formula: "floor")
 * The paper's text says "nearest level" while its formula floors; both are offered, and
 * `nearest` (⌊·+½⌋) is the default because it halves the worst-case error for the same L.
 * Dequantization divides by S_i, so a linear layer sees S_i·x and the client undoes the scale.
 * Pure functions: no I/O, float64 arithmetic only.
 */

export type QuantizeParams = {
  /** Threshold T on σ_i that picks α or 1/α. Paper default 0.1. */
  threshold: number;
  /** Scaling factor α (> 0). Paper default 0.5. */
  alpha: number;
  /** Number of levels L (≥ 2). Paper default 256. */
  levels: number;
  /** `floor` is the paper's formula; `nearest` its text. */
  rounding?: "floor" | "nearest";
};

export const PAPER_QUANTIZE_PARAMS: QuantizeParams = {
  threshold: 0.1,
  alpha: 0.5,
  levels: 256,
  rounding: "floor",
};

export type QuantizeResult = {
  /** q_ij, N×M row-major (still scaled by S_i). */
  values: Float64Array;
  /** σ_i per sample. */
  sigma: Float64Array;
  /** S_i per sample. */
  scale: Float64Array;
  /** Q_i per sample (0 when every feature of the sample is equal). */
  step: Float64Array;
  /** min_i of the scaled sample. */
  min: Float64Array;
};

function check(params: QuantizeParams, length: number, features: number): void {
  if (!Number.isInteger(features) || features <= 0 || length % features !== 0) {
    throw new RangeError(`a tensor of ${length} values does not split into rows of ${features} features`);
  }
  if (!(params.alpha > 0) || !Number.isFinite(params.alpha))
    throw new RangeError("alpha must be a positive number");
  if (!Number.isInteger(params.levels) || params.levels < 2)
    throw new RangeError("levels must be an integer ≥ 2");
  if (!Number.isFinite(params.threshold)) throw new RangeError("threshold must be a finite number");
}

/** Quantizes each row (sample) of an N×M row-major tensor. */
export function dynamicQuantize(
  x: ArrayLike<number>,
  features: number,
  params: QuantizeParams,
): QuantizeResult {
  check(params, x.length, features);
  const rows = x.length / features;
  const values = new Float64Array(x.length);
  const sigma = new Float64Array(rows);
  const scale = new Float64Array(rows);
  const step = new Float64Array(rows);
  const min = new Float64Array(rows);
  const nearest = (params.rounding ?? "nearest") === "nearest";

  for (let i = 0; i < rows; i++) {
    const base = i * features;
    let mean = 0;
    for (let j = 0; j < features; j++) mean += x[base + j]!;
    mean /= features;
    let variance = 0;
    for (let j = 0; j < features; j++) {
      const t = x[base + j]! - mean;
      variance += t * t;
    }
    const s = Math.sqrt(variance / features);
    const S = s > params.threshold ? params.alpha : 1 / params.alpha;
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = 0; j < features; j++) {
      const y = S * x[base + j]!;
      values[base + j] = y;
      if (y < lo) lo = y;
      if (y > hi) hi = y;
    }
    const Q = (hi - lo) / (params.levels - 1);
    if (Q > 0) {
      for (let j = 0; j < features; j++) {
        const k = (values[base + j]! - lo) / Q;
        // Clamp: float error must never push a value past the top level.
        const level = Math.min(params.levels - 1, nearest ? Math.floor(k + 0.5) : Math.floor(k));
        values[base + j] = level * Q + lo;
      }
    }
    sigma[i] = s;
    scale[i] = S;
    step[i] = Q;
    min[i] = lo;
  }
  return { values, sigma, scale, step, min };
}

/** Undoes the adaptive scale of rows (after decryption): x̂_ij = v_ij / S_i. */
export function descale(values: ArrayLike<number>, features: number, scale: ArrayLike<number>): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i]! / scale[Math.floor(i / features)]!;
  return out;
}
