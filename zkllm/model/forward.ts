/**
 * Plaintext GPT-2 forward pass in TypeScript: the reference the ONNX graph and the encrypted
 * engine are checked against. Weights stay float32 (as stored); every sum runs in float64 so
 * this is the more exact side of any comparison.
 */
import { type Gpt2Checkpoint, type Gpt2Config, type Gpt2LayerWeights, innerDim } from "./checkpoint";

const GELU_C = Math.sqrt(2 / Math.PI);

/** GPT-2's "gelu_new": the tanh approximation of GELU. */
export function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
}

/** out = LayerNorm(x) · weight + bias over one row (biased variance, as torch). */
export function layerNorm(
  x: Float64Array,
  weight: Float32Array,
  bias: Float32Array,
  eps: number,
  out: Float64Array,
): void {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    const t = x[i]! - mean;
    variance += t * t;
  }
  const inv = 1 / Math.sqrt(variance / n + eps);
  for (let i = 0; i < n; i++) out[i] = (x[i]! - mean) * inv * weight[i]! + bias[i]!;
}

/** out = x · W + b with W in Conv1D layout [in, out] (row-major). */
export function linear(x: Float64Array, weight: Float32Array, bias: Float32Array, out: Float64Array): void {
  const nIn = x.length;
  const nOut = out.length;
  for (let j = 0; j < nOut; j++) out[j] = bias[j]!;
  // Row-wise accumulation walks W contiguously, which matters for the 768-wide shapes.
  for (let i = 0; i < nIn; i++) {
    const xi = x[i]!;
    if (xi === 0) continue;
    const row = i * nOut;
    for (let j = 0; j < nOut; j++) out[j] = out[j]! + xi * weight[row + j]!;
  }
}

export function softmaxInPlace(x: Float64Array, length = x.length): void {
  let max = -Infinity;
  for (let i = 0; i < length; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const e = Math.exp(x[i]! - max);
    x[i] = e;
    sum += e;
  }
  for (let i = 0; i < length; i++) x[i] = x[i]! / sum;
}

/** Keys and values of every layer for the positions processed so far. */
export interface KvCache {
  /** Number of positions already in the cache. */
  length: number;
  keys: Float64Array[]; // per layer [n_positions, d]
  values: Float64Array[];
}

export class Gpt2Forward {
  readonly config: Gpt2Config;
  private readonly ckpt: Gpt2Checkpoint;
  private readonly d: number;
  private readonly inner: number;
  private readonly headDim: number;

  constructor(ckpt: Gpt2Checkpoint) {
    this.ckpt = ckpt;
    this.config = ckpt.config;
    this.d = ckpt.config.n_embd;
    this.inner = innerDim(ckpt.config);
    this.headDim = this.d / ckpt.config.n_head;
  }

  createCache(): KvCache {
    const size = this.config.n_positions * this.d;
    return {
      length: 0,
      keys: this.ckpt.weights.layers.map(() => new Float64Array(size)),
      values: this.ckpt.weights.layers.map(() => new Float64Array(size)),
    };
  }

  /** Logits [T, vocab] (row-major) for every position of `ids`, computed from scratch. */
  forward(ids: ReadonlyArray<number>): Float32Array {
    return this.step(this.createCache(), ids);
  }

  /**
   * Appends `ids` after the cached positions and returns their logits [ids.length, vocab].
   * Processing tokens one at a time or all at once gives the same numbers: each position only
   * attends to the cache, which is exactly the causal mask.
   */
  step(cache: KvCache, ids: ReadonlyArray<number>): Float32Array {
    const { vocab_size: vocab, n_positions: nPos } = this.config;
    if (cache.length + ids.length > nPos) {
      throw new RangeError(`${cache.length + ids.length} positions exceed the model's n_positions (${nPos})`);
    }
    const logits = new Float32Array(ids.length * vocab);
    const x = new Float64Array(this.d);
    const row = new Float64Array(vocab);
    ids.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab)
        throw new RangeError(`token id ${id} is outside 0..${vocab - 1}`);
      this.embed(id, cache.length, x);
      this.ckpt.weights.layers.forEach((layer, l) => this.block(layer, l, cache, x));
      cache.length += 1;
      this.head(x, row);
      logits.set(row, t * vocab);
    });
    return logits;
  }

  private embed(id: number, pos: number, out: Float64Array): void {
    const { wte, wpe } = this.ckpt.weights;
    const d = this.d;
    for (let i = 0; i < d; i++) out[i] = wte[id * d + i]! + wpe[pos * d + i]!;
  }

  private block(w: Gpt2LayerWeights, l: number, cache: KvCache, x: Float64Array): void {
    const d = this.d;
    const hd = this.headDim;
    const eps = this.config.layer_norm_epsilon;
    const pos = cache.length;
    const h = new Float64Array(d);
    layerNorm(x, w.ln1Weight, w.ln1Bias, eps, h);
    const qkv = new Float64Array(3 * d);
    linear(h, w.attnWeight, w.attnBias, qkv);
    const keys = cache.keys[l]!;
    const values = cache.values[l]!;
    keys.set(qkv.subarray(d, 2 * d), pos * d);
    values.set(qkv.subarray(2 * d, 3 * d), pos * d);

    const attn = new Float64Array(d);
    const scores = new Float64Array(pos + 1);
    const scale = 1 / Math.sqrt(hd);
    for (let head = 0; head < this.config.n_head; head++) {
      const off = head * hd;
      for (let p = 0; p <= pos; p++) {
        let s = 0;
        for (let i = 0; i < hd; i++) s += qkv[off + i]! * keys[p * d + off + i]!;
        scores[p] = s * scale;
      }
      softmaxInPlace(scores, pos + 1);
      for (let p = 0; p <= pos; p++) {
        const a = scores[p]!;
        for (let i = 0; i < hd; i++) attn[off + i] = attn[off + i]! + a * values[p * d + off + i]!;
      }
    }
    const proj = new Float64Array(d);
    linear(attn, w.attnProjWeight, w.attnProjBias, proj);
    for (let i = 0; i < d; i++) x[i] = x[i]! + proj[i]!;

    layerNorm(x, w.ln2Weight, w.ln2Bias, eps, h);
    const fc = new Float64Array(this.inner);
    linear(h, w.fcWeight, w.fcBias, fc);
    for (let i = 0; i < fc.length; i++) fc[i] = geluNew(fc[i]!);
    linear(fc, w.fcProjWeight, w.fcProjBias, proj);
    for (let i = 0; i < d; i++) x[i] = x[i]! + proj[i]!;
  }

  private head(x: Float64Array, out: Float64Array): void {
    const d = this.d;
    const w = this.ckpt.weights;
    const h = new Float64Array(d);
    layerNorm(x, w.lnFWeight, w.lnFBias, this.config.layer_norm_epsilon, h);
    const emb = w.lmHead ?? w.wte;
    for (let v = 0; v < out.length; v++) {
      let s = 0;
      const base = v * d;
      for (let i = 0; i < d; i++) s += h[i]! * emb[base + i]!;
      out[v] = s;
    }
  }
}

// ------------------------------------------------------------------------------------------
// Sampling
// ------------------------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32): the same seed gives the same samples everywhere. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the largest value; the lowest index wins a tie so every implementation agrees. */
export function argmax(values: ArrayLike<number>, start = 0, length = values.length - start): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = values[start + i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

export interface SamplingOptions {
  /** 0 (default) means greedy. */
  temperature?: number;
  /** Keep only the k most likely tokens before sampling (0 = all). */
  topK?: number;
  /** Required when temperature > 0. */
  rng?: () => number;
}

/** Picks the next token from one row of logits. */
export function sampleToken(logits: ArrayLike<number>, options: SamplingOptions = {}): number {
  const temperature = options.temperature ?? 0;
  if (temperature <= 0) return argmax(logits);
  if (!options.rng) throw new Error("sampling with temperature > 0 needs an rng");
  const n = logits.length;
  let order = Array.from({ length: n }, (_, i) => i);
  if (options.topK && options.topK > 0 && options.topK < n) {
    order.sort((a, b) => logits[b]! - logits[a]! || a - b);
    order = order.slice(0, options.topK);
  }
  const p = new Float64Array(order.length);
  order.forEach((id, i) => (p[i] = logits[id]! / temperature));
  softmaxInPlace(p);
  let u = options.rng();
  for (let i = 0; i < p.length; i++) {
    u -= p[i]!;
    if (u < 0) return order[i]!;
  }
  return order[order.length - 1]!;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Stop after emitting this id (it is included in the output). */
  eosId?: number;
}

/**
 * Generates with the KV cache: the prompt is processed once, then one position per token.
 * Stops early at `eosId` or once prompt + output fill n_positions (a prompt that already fills
 * it still gets one token, predicted from the last position).
 */
export function generate(
  model: Gpt2Forward,
  promptIds: ReadonlyArray<number>,
  options: GenerateOptions,
): number[] {
  if (promptIds.length === 0) throw new RangeError("the prompt must hold at least one token");
  const vocab = model.config.vocab_size;
  const cache = model.createCache();
  let logits = model.step(cache, promptIds);
  let last = logits.subarray((promptIds.length - 1) * vocab);
  const out: number[] = [];
  while (out.length < options.maxNewTokens) {
    const next = sampleToken(last, options);
    out.push(next);
    // cache.length + 1 = prompt + output so far; stop when that fills the context window.
    if (next === options.eosId || cache.length + 1 >= model.config.n_positions) break;
    logits = model.step(cache, [next]);
    last = logits;
  }
  return out;
}
