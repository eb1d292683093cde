/**
 * The client side of hybrid encrypted inference (docs/architecture.md §5): tokens are embedded, normalised,
 * attended (softmax core over the client's own KV cache) and passed through GELU here, and the
 * logits stay here for the greedy loop (model/greedy.ts; a session is its `LogitsSource`); the
 * four weight-bearing products of every layer go to a `LinearBackend`, which in the encrypted
 * mode encrypts the rows, has the server evaluate them and decrypts the answer. Several tokens
 * travel together (the prompt in one round trip per product); generation then sends one row per
 * product per token.
 */
import { geluNew, layerNorm } from "../model/forward";
import type { LogitsSource } from "../model/greedy";
import { type QuantizeParams, dynamicQuantize } from "../squeeze/quantize";
import {
  type ClientLayer,
  type ClientModel,
  HEAD_PARTS,
  type StepRole,
  headStepId,
  stepId,
} from "./split-model";

/** Whether rows are (part of) the prompt or one generated token. */
export type Phase = "prompt" | "generate";

/**
 * Evaluates y = x · W for the server step `stepId` on `nRows` rows (row-major, no bias);
 * `phase` lets an encrypted backend put prompt rows in prompt buckets (default "prompt").
 */
export type LinearBackend = {
  evaluate(stepId: string, rows: Float64Array, nRows: number, phase?: Phase): Promise<Float64Array>;
};

export type SessionOptions = {
  /** Cerberus Squeezing stage 1: quantize rows before they leave the client. */
  quantize?: QuantizeParams;
  /** Calibration hook: every kept head's output row (before W_O). */
  onHeadOutput?: (layer: number, head: number, output: Float64Array) => void;
};

export class HybridSession implements LogitsSource {
  /** Positions processed so far. */
  length = 0;
  /** The first step is the prompt; every later one a generated token. */
  private phase: Phase = "prompt";
  /**
   * Where greedy decoding from a fresh session ends (model/greedy.ts): the last position's logits
   * still give one token, which is never fed back.
   */
  readonly maxSequence: number;
  private readonly keys: Float64Array[];
  private readonly values: Float64Array[];
  /** The identity affine, for LayerNorms whose affine was fused into the next product. */
  private readonly identity: { gamma: Float32Array; beta: Float32Array };

  constructor(
    readonly model: ClientModel,
    private readonly backend: LinearBackend,
    private readonly options: SessionOptions = {},
  ) {
    this.maxSequence = model.nPositions + 1;
    this.identity = { gamma: new Float32Array(model.d).fill(1), beta: new Float32Array(model.d) };
    this.keys = model.layers.map((l) => new Float64Array(model.nPositions * l.heads.length * model.headDim));
    this.values = model.layers.map(
      (l) => new Float64Array(model.nPositions * l.heads.length * model.headDim),
    );
  }

  /** Appends `ids` and returns the logits of the last of them. */
  async step(ids: readonly number[]): Promise<Float64Array> {
    const m = this.model;
    const T = ids.length;
    if (T === 0) throw new RangeError("step needs at least one token");
    if (this.length + T > m.nPositions) {
      throw new RangeError(`${this.length + T} positions exceed the model's context of ${m.nPositions}`);
    }
    const d = m.d;
    const x = new Float64Array(T * d);
    ids.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= m.vocab)
        throw new RangeError(`token id ${id} outside 0..${m.vocab - 1}`);
      const pos = this.length + t;
      for (let i = 0; i < d; i++) x[t * d + i] = m.wte[id * d + i]! + m.wpe[pos * d + i]!;
    });

    this.phase = this.length === 0 ? "prompt" : "generate";
    for (let l = 0; l < m.layers.length; l++) await this.block(l, x, T);
    this.length += T;

    const h = new Float64Array(d);
    layerNorm(x.subarray((T - 1) * d), m.lnF.gamma, m.lnF.beta, m.eps, h);
    const logits = new Float64Array(m.vocab);
    for (let v = 0; v < m.vocab; v++) {
      let s = 0;
      const base = v * d;
      for (let i = 0; i < d; i++) s += h[i]! * m.lmHead[base + i]!;
      logits[v] = s;
    }
    return logits;
  }

  /** LayerNorm of one row; the affine only when it was not fused into the next product. */
  private normalise(x: Float64Array, affine: ClientLayer["ln1"], out: Float64Array): void {
    const { gamma, beta } = affine ?? this.identity;
    layerNorm(x, gamma, beta, this.model.eps, out);
  }

  /** One server product over T rows: quantize (if on), evaluate, undo the scale, add the bias. */
  private async product(layer: number, role: StepRole, rows: Float64Array, T: number): Promise<Float64Array> {
    const bias = this.model.layers[layer]!.bias[role];
    const width = rows.length / T;
    let sent = rows;
    let scale: Float64Array | undefined;
    if (this.options.quantize) {
      const q = dynamicQuantize(rows, width, this.options.quantize);
      sent = q.values;
      scale = q.scale;
    }
    const y = await this.serverProduct(layer, role, sent, T);
    const out = bias.length;
    if (y.length !== T * out)
      throw new Error(`step ${stepId(layer, role)} returned ${y.length} values, expected ${T * out}`);
    for (let t = 0; t < T; t++) {
      const inv = scale ? 1 / scale[t]! : 1;
      for (let j = 0; j < out; j++) y[t * out + j] = y[t * out + j]! * inv + bias[j]!;
    }
    return y;
  }

  /** The server's part of a product: one request, or one per head when attention is unfused. */
  private async serverProduct(l: number, role: StepRole, x: Float64Array, T: number): Promise<Float64Array> {
    const layer = this.model.layers[l]!;
    if (!layer.perHead || (role !== "qkv" && role !== "attnOut")) {
      return this.backend.evaluate(stepId(l, role), x, T, this.phase);
    }
    const hd = this.model.headDim;
    const dk = layer.heads.length * hd;
    if (role === "qkv") {
      const out = new Float64Array(T * 3 * dk);
      for (const [k, h] of layer.heads.entries()) {
        for (const [p, part] of HEAD_PARTS.entries()) {
          const y = await this.backend.evaluate(headStepId(l, part, h), x, T, this.phase);
          for (let t = 0; t < T; t++) out.set(y.subarray(t * hd, (t + 1) * hd), t * 3 * dk + p * dk + k * hd);
        }
      }
      return out;
    }
    const d = this.model.d;
    const out = new Float64Array(T * d);
    const slice = new Float64Array(T * hd);
    for (const [k, h] of layer.heads.entries()) {
      for (let t = 0; t < T; t++) slice.set(x.subarray(t * dk + k * hd, t * dk + (k + 1) * hd), t * hd);
      const y = await this.backend.evaluate(headStepId(l, "o", h), slice.slice(), T, this.phase);
      for (let i = 0; i < out.length; i++) out[i] = out[i]! + y[i]!;
    }
    return out;
  }

  private async block(l: number, x: Float64Array, T: number): Promise<void> {
    const m = this.model;
    const layer = m.layers[l]!;
    const d = m.d;
    const hd = m.headDim;
    const nh = layer.heads.length;
    const dk = nh * hd;

    // == Attention: products on the server, the softmax core here ==
    const h = new Float64Array(T * d);
    for (let t = 0; t < T; t++)
      this.normalise(x.subarray(t * d, (t + 1) * d), layer.ln1, h.subarray(t * d, (t + 1) * d));
    const qkv = await this.product(l, "qkv", h, T);
    const keys = this.keys[l]!;
    const values = this.values[l]!;
    for (let t = 0; t < T; t++) {
      const pos = this.length + t;
      keys.set(qkv.subarray(t * 3 * dk + dk, t * 3 * dk + 2 * dk), pos * dk);
      values.set(qkv.subarray(t * 3 * dk + 2 * dk, t * 3 * dk + 3 * dk), pos * dk);
    }
    const attn = new Float64Array(T * dk);
    const scores = new Float64Array(this.length + T);
    for (let t = 0; t < T; t++) {
      const last = this.length + t; // causal: position t sees the cache and itself
      for (let k = 0; k < nh; k++) {
        const off = k * hd;
        let max = -Infinity;
        for (let p = 0; p <= last; p++) {
          let s = 0;
          for (let i = 0; i < hd; i++) s += qkv[t * 3 * dk + off + i]! * keys[p * dk + off + i]!;
          s *= layer.scoreScale;
          scores[p] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let p = 0; p <= last; p++) {
          const e = Math.exp(scores[p]! - max);
          scores[p] = e;
          sum += e;
        }
        const o = attn.subarray(t * dk + off, t * dk + off + hd);
        for (let p = 0; p <= last; p++) {
          const a = scores[p]! / sum;
          for (let i = 0; i < hd; i++) o[i] = o[i]! + a * values[p * dk + off + i]!;
        }
        this.options.onHeadOutput?.(l, layer.heads[k]!, o);
      }
    }
    const proj = await this.product(l, "attnOut", attn, T);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + proj[i]!;

    // == MLP: up and down products on the server, GELU here ==
    for (let t = 0; t < T; t++)
      this.normalise(x.subarray(t * d, (t + 1) * d), layer.ln2, h.subarray(t * d, (t + 1) * d));
    const up = await this.product(l, "mlpUp", h, T);
    for (let i = 0; i < up.length; i++) up[i] = geluNew(up[i]!);
    const down = await this.product(l, "mlpDown", up, T);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + down[i]!;
  }
}

/** The plaintext backend: the same products in float64, for checks and calibration. */
export function plainBackend(
  steps: ReadonlyArray<{ id: string; inFeatures: number; outFeatures: number; weight: Float32Array }>,
): LinearBackend {
  const byId = new Map(steps.map((s) => [s.id, s]));
  return {
    async evaluate(id, rows, nRows) {
      const s = byId.get(id);
      if (!s) throw new Error(`unknown plan step ${id}`);
      const out = new Float64Array(nRows * s.outFeatures);
      for (let t = 0; t < nRows; t++) {
        for (let i = 0; i < s.inFeatures; i++) {
          const xi = rows[t * s.inFeatures + i]!;
          if (xi === 0) continue;
          const w = i * s.outFeatures;
          const o = t * s.outFeatures;
          for (let j = 0; j < s.outFeatures; j++) out[o + j] = out[o + j]! + xi * s.weight[w + j]!;
        }
      }
      return out;
    },
  };
}
