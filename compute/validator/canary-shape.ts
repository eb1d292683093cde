/**
 * How big canaries are and when they go (issue 17): drawn from what this Brain's users send, so a
 * miner cannot tell a canary from a user's prompt by its size or its timing. Pure: the history
 * comes in (the service reads ComputeMarket's `RequestOpened` events, sdk/request-history.ts), a
 * sampler goes out. Randomness is crypto-grade (`crypto.getRandomValues`) unless a test injects
 * its own: a miner must not predict the next canary from the last ones.
 *
 * - Sizes: a request drawn uniformly from the history (its empirical distribution); its
 *   `maxCompletionUnits` is the canary's maxTokens, and its prompt length is drawn uniformly
 *   within the prefill bucket its `promptUnits` names (encrypted prompts are charged whole buckets,
 *   sdk/prompt.ts `promptUnits`; plain prompts their exact length, bucket 1).
 * - Gaps: the empirical gaps between consecutive requests' block timestamps, normalised to mean 1
 *   and scaled to the configured mean. Block timestamps fall on a lattice (one block apart), which
 *   users' arrivals at the gateway do not: each drawn gap is smoothed by a uniform kernel one block
 *   wide (reflected at 0) and renormalised so the mean stays exactly the configured one.
 * - With fewer than `MIN_HISTORY` usable requests (or gaps) the fallback is used: `USER_LIKE_SHAPE`
 *   ranges for sizes, `jitteredGap` for gaps; `source` says which.
 */

/** One request as ComputeMarket opened it (sdk/request-history.ts `OpenedRequest` fits). */
export type HistoryRequest = {
  readonly promptUnits: number;
  readonly maxCompletionUnits: number;
  /** Unix seconds of the block that opened it (only the gaps use it). */
  readonly timestamp: number;
};

/** Inclusive ranges a canary's prompt length (tokens) and `maxTokens` are drawn from. */
export type CanaryShape = { promptTokens: readonly [number, number]; maxTokens: readonly [number, number] };

/** What users of a chat-sized Brain send: a sentence to a paragraph, a few to a dozen tokens back. */
export const USER_LIKE_SHAPE: CanaryShape = { promptTokens: [4, 48], maxTokens: [4, 16] };

/** Requests (or gaps) a history needs before canaries take their shape from it. */
export const MIN_HISTORY = 20;

/** One canary's size. */
export type CanarySize = { promptTokens: number; maxTokens: number };

/** A uniform number in [0, 1). */
export type Uniform = () => number;

/** Crypto-grade uniform in [0, 1), 53 bits. */
export const cryptoUniform: Uniform = () => {
  const [hi, lo] = crypto.getRandomValues(new Uint32Array(2));
  return ((hi! >>> 5) * 67_108_864 + (lo! >>> 6)) / 9_007_199_254_740_992;
};

const pick = (n: number, random: Uniform): number => Math.min(n - 1, Math.floor(random() * n));
/** A whole number in [lo, hi], uniformly. */
const between = (lo: number, hi: number, random: Uniform): number => lo + pick(hi - lo + 1, random);

export type SizeSampler = {
  /** Where the sizes come from: the Brain's users, or `USER_LIKE_SHAPE` (too little history). */
  readonly source: "history" | "fallback";
  /** Usable requests in the history (those a canary could copy). */
  readonly requests: number;
  /** Requests dropped as unusable (malformed, or not fitting the model's context). */
  readonly dropped: number;
  draw(): CanarySize;
};

export type ShapeOptions = {
  /** The prefill bucket promptUnits are rounded up to: the plan's (encrypted), 1 (plain). */
  bucket: number;
  /** The model's context in tokens. */
  nPositions: number;
  /** Used with too little history (default USER_LIKE_SHAPE). */
  fallback?: CanaryShape;
  /** Default MIN_HISTORY. */
  minRequests?: number;
  /** Default cryptoUniform. */
  random?: Uniform;
};

const isCount = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 1;

/**
 * A sampler of canary sizes from a Brain's request history (see the file comment). Requests whose
 * units are not whole numbers ≥ 1, or whose prompt units exceed the context rounded up to the
 * bucket, are dropped; with fewer than `minRequests` left it falls back to `fallback`'s ranges.
 * Throws a RangeError for a bad bucket, context or fallback.
 */
export function shapeFromHistory(requests: readonly HistoryRequest[], options: ShapeOptions): SizeSampler {
  const { bucket, nPositions } = options;
  const random = options.random ?? cryptoUniform;
  const fallback = options.fallback ?? USER_LIKE_SHAPE;
  if (!isCount(bucket)) throw new RangeError(`a prefill bucket is a whole number ≥ 1, not ${bucket}`);
  if (!isCount(nPositions) || nPositions < 2)
    throw new RangeError(`a context is a whole number ≥ 2, not ${nPositions}`);
  checkShape(fallback, nPositions);
  const maxUnits = Math.ceil(nPositions / bucket) * bucket;
  const usable = requests.filter(
    (r) =>
      r !== null &&
      typeof r === "object" &&
      isCount(r.promptUnits) &&
      isCount(r.maxCompletionUnits) &&
      r.promptUnits <= maxUnits,
  );
  const dropped = requests.length - usable.length;

  if (usable.length < (options.minRequests ?? MIN_HISTORY)) {
    const [pMin, pMax] = fallback.promptTokens;
    const [mMin, mMax] = fallback.maxTokens;
    return {
      source: "fallback",
      requests: usable.length,
      dropped,
      draw() {
        const promptTokens = Math.min(between(pMin, pMax, random), nPositions - 1);
        const maxTokens = Math.min(between(mMin, mMax, random), nPositions - promptTokens + 1);
        return { promptTokens, maxTokens };
      },
    };
  }
  return {
    source: "history",
    requests: usable.length,
    dropped,
    draw() {
      const r = usable[pick(usable.length, random)]!;
      // The bucket the charged units name: a length in (units − bucket, units], within the context.
      const hi = Math.min(r.promptUnits, nPositions);
      const lo = Math.max(1, Math.min(hi, Math.ceil(r.promptUnits / bucket) * bucket - bucket + 1));
      const promptTokens = between(lo, hi, random);
      return { promptTokens, maxTokens: Math.max(1, Math.min(r.maxCompletionUnits, 1024)) };
    },
  };
}

function checkShape(shape: CanaryShape, nPositions: number): void {
  const [pMin, pMax] = shape.promptTokens;
  const [mMin, mMax] = shape.maxTokens;
  if (!(isCount(pMin) && isCount(pMax) && pMax >= pMin && isCount(mMin) && isCount(mMax) && mMax >= mMin))
    throw new RangeError(`invalid canary shape ${JSON.stringify(shape)}`);
  if (pMin + mMin > nPositions + 1)
    throw new RangeError(`canaries of ${pMin}+${mMin} tokens do not fit a context of ${nPositions}`);
}

export type GapSampler = {
  /** Where the gaps' shape comes from: the Brain's users, or `jitteredGap` (too little history). */
  readonly source: "history" | "fallback";
  /** Gaps in the history (between consecutive requests). */
  readonly gaps: number;
  /** Milliseconds to wait before the next canary; mean `meanMs`. */
  draw(): number;
};

/**
 * A sampler of gaps between canaries of mean `meanMs`, shaped like the gaps between the history's
 * requests (see the file comment) when it has at least `minGaps` of them (default MIN_HISTORY)
 * and they are not all zero; else `jitteredGap(meanMs)`. Timestamps need not be sorted; entries
 * whose timestamp is not a finite number ≥ 0 are ignored. Throws a RangeError for a bad mean.
 */
export function gapsFromHistory(
  requests: readonly Pick<HistoryRequest, "timestamp">[],
  meanMs: number,
  options: { minGaps?: number; random?: Uniform } = {},
): GapSampler {
  if (!(Number.isFinite(meanMs) && meanMs > 0)) throw new RangeError(`a mean gap is > 0 ms, not ${meanMs}`);
  const random = options.random ?? cryptoUniform;
  const times = requests
    .map((r) => r?.timestamp)
    .filter((t): t is number => typeof t === "number" && Number.isFinite(t) && t >= 0)
    .sort((a, b) => a - b);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const positive = gaps.filter((g) => g > 0);
  if (gaps.length < (options.minGaps ?? MIN_HISTORY) || positive.length === 0) {
    return { source: "fallback", gaps: gaps.length, draw: () => jitteredGap(meanMs, random) };
  }
  // The smoothing width: one block (the smallest step timestamps move by).
  const h = Math.min(...positive);
  // E|g + v|, v uniform in [−h/2, h/2]: g itself unless the kernel reaches below 0.
  const expected = (g: number) => (g >= h / 2 ? g : (g * g + (h * h) / 4) / h);
  const mean = gaps.reduce((s, g) => s + expected(g), 0) / gaps.length;
  return {
    source: "history",
    gaps: gaps.length,
    draw() {
      const g = gaps[pick(gaps.length, random)]!;
      return (Math.abs(g + (random() - 0.5) * h) / mean) * meanMs;
    },
  };
}

/**
 * A random gap of mean about `meanMs`: 0.1·mean plus an exponential part (memoryless: the time
 * since the last canary says nothing about the next), redrawn above 4·mean so no gap is extreme.
 */
export function jitteredGap(meanMs: number, random: Uniform = cryptoUniform): number {
  for (;;) {
    const gap = 0.1 * meanMs - Math.log(1 - random()) * 0.9 * meanMs;
    if (gap <= 4 * meanMs) return gap;
  }
}
