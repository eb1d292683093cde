/**
 * Cerberus Squeezing, stage 3: fusion of consecutive linear and affine operations, so that the
 * server runs fewer homomorphic operations for the same result.
 *
 * - LayerNorm's affine (γ, β) folds into the next projection W ([in, out], Conv1D layout):
 *     (x̂ ⊙ γ + β) · W + b  =  x̂ · (diag(γ) W) + (β · W + b)
 *   so the client sends the bare normalised x̂ and the server's product already includes γ, β.
 * - The attention scale 1/√d_head folds into the query columns (and their bias).
 * - Dropping pruned heads removes their query/key/value columns and their rows of W_O, which
 *   shrinks the products the server evaluates (fewer diagonals, fewer rotations).
 * Pure functions over float32 weights; the maths is exact up to float rounding.
 */

export type Linear = {
  /** [in, out] row-major. */
  weight: Float32Array;
  bias: Float32Array;
  inFeatures: number;
  outFeatures: number;
};

/** diag(γ)·W and β·W + b: the LayerNorm affine folded into the following projection. */
export function foldLayerNormAffine(gamma: Float32Array, beta: Float32Array, next: Linear): Linear {
  const { inFeatures: nIn, outFeatures: nOut } = next;
  if (gamma.length !== nIn || beta.length !== nIn)
    throw new RangeError("γ and β must match the projection's input width");
  const weight = new Float32Array(nIn * nOut);
  const bias = new Float64Array(nOut);
  for (let j = 0; j < nOut; j++) bias[j] = next.bias[j]!;
  for (let i = 0; i < nIn; i++) {
    const g = gamma[i]!;
    const b = beta[i]!;
    const row = i * nOut;
    for (let j = 0; j < nOut; j++) {
      const w = next.weight[row + j]!;
      weight[row + j] = g * w;
      bias[j] = bias[j]! + b * w;
    }
  }
  return { weight, bias: Float32Array.from(bias), inFeatures: nIn, outFeatures: nOut };
}

/** Multiplies output columns [from, to) (and their bias) by `factor`. */
export function scaleColumns(layer: Linear, from: number, to: number, factor: number): Linear {
  const weight = Float32Array.from(layer.weight);
  const bias = Float32Array.from(layer.bias);
  for (let i = 0; i < layer.inFeatures; i++) {
    for (let j = from; j < to; j++) weight[i * layer.outFeatures + j]! *= factor;
  }
  for (let j = from; j < to; j++) bias[j]! *= factor;
  return { ...layer, weight, bias };
}

/** Keeps only the listed output columns, in order. */
export function selectColumns(layer: Linear, columns: readonly number[]): Linear {
  const nOut = columns.length;
  const weight = new Float32Array(layer.inFeatures * nOut);
  for (let i = 0; i < layer.inFeatures; i++) {
    for (let k = 0; k < nOut; k++) weight[i * nOut + k] = layer.weight[i * layer.outFeatures + columns[k]!]!;
  }
  return {
    weight,
    bias: Float32Array.from(columns, (c) => layer.bias[c]!),
    inFeatures: layer.inFeatures,
    outFeatures: nOut,
  };
}

/** Keeps only the listed input rows, in order (the bias is unchanged). */
export function selectRows(layer: Linear, rows: readonly number[]): Linear {
  const nOut = layer.outFeatures;
  const weight = new Float32Array(rows.length * nOut);
  rows.forEach((r, k) => weight.set(layer.weight.subarray(r * nOut, (r + 1) * nOut), k * nOut));
  return { weight, bias: Float32Array.from(layer.bias), inFeatures: rows.length, outFeatures: nOut };
}

/** Columns of the fused QKV projection [q | k | v] that belong to the kept heads. */
export function keptQkvColumns(d: number, nHead: number, kept: readonly boolean[]): number[] {
  const hd = d / nHead;
  const columns: number[] = [];
  for (const part of [0, 1, 2]) {
    for (let h = 0; h < nHead; h++) {
      if (!kept[h]) continue;
      for (let i = 0; i < hd; i++) columns.push(part * d + h * hd + i);
    }
  }
  return columns;
}

/** Rows of W_O (the attention output projection) that belong to the kept heads. */
export function keptHeadRows(d: number, nHead: number, kept: readonly boolean[]): number[] {
  const hd = d / nHead;
  const rows: number[] = [];
  for (let h = 0; h < nHead; h++) if (kept[h]) for (let i = 0; i < hd; i++) rows.push(h * hd + i);
  return rows;
}

/** x · W + b in float64 (the reference the fused forms are checked against). */
export function applyLinear(layer: Linear, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(layer.outFeatures);
  for (let j = 0; j < layer.outFeatures; j++) out[j] = layer.bias[j]!;
  for (let i = 0; i < layer.inFeatures; i++) {
    const xi = x[i]!;
    for (let j = 0; j < layer.outFeatures; j++)
      out[j] = out[j]! + xi * layer.weight[i * layer.outFeatures + j]!;
  }
  return out;
}
