/**
 * Planning of encrypted linear layers, y = W·x + b, with plaintext weights and encrypted x.
 *
 * Pure logic only (no SEAL): the planner chooses a slot layout, the client uses the same step to
 * lay activations into slots and to read results back, and the server uses it to build the
 * diagonal plaintexts and to know which rotations to run. A step is plain JSON.
 *
 * ## Layout (all sizes powers of two; S = N/2 slots)
 *
 * - The input features are cut into `chunks` chunks of width `chunk` = p (zero-padded).
 * - `tokensPerCiphertext` = T tokens share a ciphertext, interleaved: slot u holds token u mod T.
 *   Inside one token's slots (every T-th slot) its chunk repeats with period p, so a rotation by
 *   k·T moves every token's chunk cyclically by k without mixing tokens or chunks. This is the
 *   "replicated" diagonal layout: no masking, no second rotation for the wrap-around.
 * - The client sends `copies` = C copies of each chunk, copy c pre-rotated by c·B·T; the server
 *   rotates each copy by i·T for i < B (`babySteps`), hoisted: every rotation is done once per
 *   input and reused by every output ciphertext and giant step. Together these give the offsets
 *   e = c·B + i < E (`span` = C·B).
 * - Output slot s (token t, q = s div T, σ = q mod p) accumulates the window of W consecutive
 *   input elements σ, σ+1, …, σ+W−1 (mod p) of every chunk:
 *   out = Σ_g rot_{g·E·T}( Σ_chunks Σ_{e<E} P_{g,c,e} ⊙ rot_{e·T}(in) ), g < G = W/E giant steps,
 *   evaluated by Horner's rule so a single giant-step key (E·T) serves every g. With a rescaling
 *   parameter set each inner sum is rescaled first, which halves the cost of the giant rotations.
 * - Each output row takes p/W slots whose windows tile its chunk (σ = a·W + τ, a < p/W); the client
 *   adds those partial sums after decryption. W (`window`) is chosen per output ciphertext: a small
 *   W needs few rotations, W = p gives one slot per row (no client-side reduction). "Packing
 *   several diagonal groups into the unused slots" is exactly this: different rows and different
 *   windows of the same row share one ciphertext, so multiply-plain works on full ciphertexts.
 *
 * Cost: multiply-plain count ≈ T·out·in / S (every slot does useful work), rotations ≈
 * chunks·C·(B−1) + Σ (G−1). The planner searches p, W, B and C with a per-operation cost model.
 */
import { ZkllmInputError } from "./errors";
import { getParamSet, slotCount, type OpCosts, type ParamSetId } from "./params";

/**
 * How the weight tensor is stored: `out-in` is PyTorch `nn.Linear` ([out, in], y = W·x), `in-out`
 * is Hugging Face GPT-2's `Conv1D` ([in, out], y = x·W).
 */
export type WeightLayout = "out-in" | "in-out";

/** The slot layout of a linear step (see the module comment for the symbols). */
export type LinearLayout = {
  /** S = N/2 real slots per ciphertext. */
  slots: number;
  /** p: width of one input chunk (a power of two; the chunk repeats with this period). */
  chunk: number;
  /** ceil(in / p). */
  chunks: number;
  /** T: tokens interleaved in one ciphertext (a power of two, T·p ≤ S). */
  tokensPerCiphertext: number;
  /** ceil(tokens / T): independent ciphertext groups. */
  groups: number;
  /** C: pre-rotated copies of each chunk the client sends. */
  copies: number;
  /** B: server-side (hoisted) rotations per copy, offsets i·T for i < B. */
  babySteps: number;
  /** E = C·B: offsets covered before a giant step. */
  span: number;
};

/** One output ciphertext (per group). */
export type LinearOutput = {
  /** First output row (index into the step's outputs) this ciphertext carries. */
  rowStart: number;
  /** Number of rows it carries. */
  rows: number;
  /** W: input elements each slot accumulates (a power of two ≤ p); p/W slots per row. */
  window: number;
  /** G = ceil(W / E) giant steps. */
  giantSteps: number;
};

/** Operation counts and the modelled time of one evaluation of the step (all groups). */
export type LinearEstimate = {
  multiplyPlain: number;
  add: number;
  addPlain: number;
  /** Rotations at the first level (baby steps). */
  rotate: number;
  /** Rotations of accumulated sums (after the rescale where the set has one). */
  rotateGiant: number;
  rescale: number;
  /** Modelled server milliseconds on one core. */
  serverMs: number;
  /** Modelled client milliseconds (encrypt inputs, decrypt outputs, transfer). */
  clientMs: number;
};

/** A serializable description of one encrypted linear layer. */
export type LinearPlanStep = {
  kind: "linear";
  /** Unique id inside a plan, e.g. `h.0.attn.c_attn`. */
  id: string;
  paramSet: ParamSetId;
  /** Name of the weight tensor the server holds. */
  weight: string;
  /** Name of the bias tensor, or null. */
  bias: string | null;
  weightLayout: WeightLayout;
  /** Input features of the weight tensor. */
  inFeatures: number;
  /** Output features of the weight tensor (its full row count). */
  weightOutFeatures: number;
  /** Output rows computed, in order, as indices into the weight's outputs; null = all of them. */
  rows: number[] | null;
  /** Output features this step produces (rows.length, or weightOutFeatures). */
  outFeatures: number;
  /** Tokens per request. */
  tokens: number;
  layout: LinearLayout;
  /** Output ciphertexts of one group, in order. */
  outputs: LinearOutput[];
  /** Rotation steps (slot counts, positive = left) the evaluation keys must contain. */
  rotations: number[];
  /** groups · chunks · copies; index = (group·chunks + chunk)·copies + copy. */
  inputCiphertexts: number;
  /** groups · outputs.length; index = group·outputs.length + output. */
  outputCiphertexts: number;
  estimate: LinearEstimate;
  /** Encoded plaintexts the evaluator holds for this step (upper bound: zero diagonals are skipped). */
  memory: LinearMemory;
};

/**
 * What a step's encoded plaintexts weigh. Every group (token bucket row set) uses the same
 * plaintexts, so the figures do not grow with `groups`; two steps with the same `shareKey` (the
 * same weights and layout, e.g. a product's generation step and its T = 1 prompt step) share them.
 */
export type LinearMemory = {
  /** Diagonal and bias plaintexts of all outputs. */
  plaintexts: number;
  /** Their bytes (N × data primes × 8 each). */
  bytes: number;
  /** Bytes of the largest output's plaintexts: the unit an evaluator encodes and holds at once. */
  largestOutputBytes: number;
};

/** Options of `planLinear`. */
export type PlanLinearOptions = {
  id: string;
  paramSet: ParamSetId;
  inFeatures: number;
  /** Output features of the weight tensor. */
  outFeatures: number;
  tokens: number;
  weight: string;
  bias?: string | null;
  /** Default `out-in`. */
  weightLayout?: WeightLayout;
  /** Compute only these weight rows (e.g. selected attention heads), in this order. */
  rows?: readonly number[];
  /** Upper bound on client-side pre-rotated copies (default 8). */
  maxCopies?: number;
  /**
   * Force W = p: every output row lands in one slot, so the client learns only W·x + b, not
   * partial sums (costs more rotations). Default false.
   */
  fullReduction?: boolean;
  /** Cost model override (default: the parameter set's measured costs). */
  costs?: OpCosts;
  /** Force a chunk width (power of two); for tests and benchmarks. */
  chunk?: number;
  /** Force the number of baby steps; for tests and benchmarks. */
  babySteps?: number;
  /** Force the largest window; for tests and benchmarks. */
  maxWindow?: number;
  /**
   * Workers the layout is optimised for (default 1): a pool gives each worker whole output
   * ciphertexts (`outputOwners`), so the planner minimises the busiest worker's time, which
   * favours several balanced outputs over one big one.
   */
  parallelism?: number;
  /**
   * Upper bound on T (default: no bound beyond the slots). T = 1 keeps a multi-row step's
   * plaintexts identical to (and shared with) the one-row step's; T > 1 saves rotations but
   * needs T times the plaintext memory.
   */
  maxTokensPerCiphertext?: number;
};

const isPow2 = (n: number) => Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
const nextPow2 = (n: number) => {
  let p = 1;
  while (p < n) p *= 2;
  return p;
};
const pow2sUpTo = (max: number) => {
  const out: number[] = [];
  for (let p = 1; p <= max; p *= 2) out.push(p);
  return out;
};

function invalid(message: string): never {
  throw new ZkllmInputError("InvalidPlan", message);
}

/** Chooses the cheapest layout for y = W·x + b under the cost model and returns the plan step. */
export function planLinear(options: PlanLinearOptions): LinearPlanStep {
  const set = getParamSet(options.paramSet);
  const S = slotCount(set);
  const costs = options.costs ?? set.costs;
  const { inFeatures, outFeatures, tokens } = options;
  for (const [name, v] of [
    ["inFeatures", inFeatures],
    ["outFeatures", outFeatures],
    ["tokens", tokens],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      invalid(`${options.id}: ${name} must be a positive integer (got ${v}).`);
  }
  const rows = options.rows ? [...options.rows] : null;
  if (rows) {
    if (rows.length === 0) invalid(`${options.id}: rows must not be empty.`);
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= outFeatures)
        invalid(`${options.id}: row ${r} is out of range.`);
    }
  }
  const R = rows ? rows.length : outFeatures;
  const maxCopies = options.maxCopies ?? 8;
  const parallelism = options.parallelism ?? 1;
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > 1024)
    invalid(`${options.id}: parallelism must be an integer in 1..1024 (got ${parallelism}).`);
  const maxT = options.maxTokensPerCiphertext ?? S;
  if (!isPow2(maxT)) invalid(`${options.id}: maxTokensPerCiphertext must be a power of two.`);
  const chunkChoices =
    options.chunk !== undefined ? [options.chunk] : pow2sUpTo(Math.min(S, nextPow2(inFeatures)));
  let best:
    | {
        layout: LinearLayout;
        outputs: LinearOutput[];
        estimate: LinearEstimate;
        score: number;
        spread: boolean;
      }
    | undefined;
  for (const p of chunkChoices) {
    if (!isPow2(p) || p > S) invalid(`${options.id}: chunk ${p} must be a power of two ≤ ${S}.`);
    const T = Math.min(nextPow2(tokens), S / p, maxT);
    const blocks = S / (T * p);
    const windowChoices = options.fullReduction
      ? [p]
      : options.maxWindow !== undefined
        ? [Math.min(options.maxWindow, p)]
        : pow2sUpTo(p);
    for (const wMax of windowChoices) {
      const outputs = partitionRows(R, blocks, wMax, options.fullReduction === true);
      for (const C of pow2sUpTo(Math.min(maxCopies, wMax))) {
        const babyChoices =
          options.babySteps !== undefined
            ? [options.babySteps]
            : set.babyRotations
              ? pow2sUpTo(wMax / C)
              : [1];
        for (const B of babyChoices) {
          if (!isPow2(B) || C * B > wMax) continue;
          const layout: LinearLayout = {
            slots: S,
            chunk: p,
            chunks: Math.ceil(inFeatures / p),
            tokensPerCiphertext: T,
            groups: Math.ceil(tokens / T),
            copies: C,
            babySteps: B,
            span: C * B,
          };
          const withSteps = outputs.map((o) => ({ ...o, giantSteps: Math.max(1, o.window / layout.span) }));
          const estimate = estimateLinear(layout, withSteps, options.bias != null, set.rescale, costs, set);
          const score =
            (parallelism === 1
              ? estimate.serverMs
              : makespan(layout, withSteps, options.bias != null, set.rescale, costs, parallelism)) +
            estimate.clientMs;
          // A pool gives each worker whole outputs, and with them their plaintexts: a layout with
          // fewer outputs than workers leaves some idle and the others holding more than their
          // share, so one with enough outputs wins whenever there is one.
          const spread = withSteps.length >= parallelism;
          if (!best || (spread && !best.spread) || (spread === best.spread && score < best.score - 1e-9))
            best = { layout, outputs: withSteps, estimate, score, spread };
        }
      }
    }
  }
  if (!best) invalid(`${options.id}: no layout satisfies the forced options.`);
  const { layout, outputs, estimate } = best;
  return {
    kind: "linear",
    id: options.id,
    paramSet: options.paramSet,
    weight: options.weight,
    bias: options.bias ?? null,
    weightLayout: options.weightLayout ?? "out-in",
    inFeatures,
    weightOutFeatures: outFeatures,
    rows,
    outFeatures: R,
    tokens,
    layout,
    outputs,
    rotations: rotationsFor(layout, outputs),
    inputCiphertexts: layout.groups * layout.chunks * layout.copies,
    outputCiphertexts: layout.groups * outputs.length,
    estimate,
    memory: memoryOf(options.paramSet, layout, outputs, options.bias != null),
  };
}

/** Bytes of one plaintext at the first data level of a parameter set. */
export function plaintextBytes(paramSet: ParamSetId): number {
  const set = getParamSet(paramSet);
  return set.polyModulusDegree * (set.coeffModulusBits.length - 1) * 8;
}

/** Plaintexts output `o` needs: one diagonal per (giant step, chunk, offset), and its bias. */
function outputPlaintextCount(layout: LinearLayout, o: LinearOutput, hasBias: boolean): number {
  return o.giantSteps * layout.chunks * offsetsUsed(layout, o) + (hasBias ? 1 : 0);
}

function memoryOf(
  paramSet: ParamSetId,
  layout: LinearLayout,
  outputs: readonly LinearOutput[],
  hasBias: boolean,
): LinearMemory {
  const each = plaintextBytes(paramSet);
  const counts = outputs.map((o) => outputPlaintextCount(layout, o, hasBias));
  const plaintexts = counts.reduce((a, b) => a + b, 0);
  return { plaintexts, bytes: plaintexts * each, largestOutputBytes: Math.max(...counts) * each };
}

/** Bytes of output `o`'s plaintexts (what an evaluator caches for it). */
export function outputPlaintextBytes(step: LinearPlanStep, o: number): number {
  const out = step.outputs[o];
  if (!out) invalid(`${step.id}: no output ${o}.`);
  return outputPlaintextCount(step.layout, out, step.bias !== null) * plaintextBytes(step.paramSet);
}

/**
 * The part of a step that determines its plaintexts: steps with equal keys encode identical
 * diagonals, so an evaluator caches them once (a product's generation step and its T = 1 prompt
 * step differ only in `tokens` and `groups`).
 */
export function plaintextShareKey(step: LinearPlanStep): string {
  const { groups: _groups, ...layout } = step.layout;
  return JSON.stringify([
    step.paramSet,
    step.weight,
    step.bias,
    step.weightLayout,
    step.inFeatures,
    step.weightOutFeatures,
    step.rows,
    layout,
    step.outputs,
  ]);
}

/** Modelled one-core milliseconds of output `o` for one group (products, sums, giant steps, save). */
function outputMs(
  layout: LinearLayout,
  o: LinearOutput,
  hasBias: boolean,
  rescale: boolean,
  costs: OpCosts,
): number {
  const terms = layout.chunks * offsetsUsed(layout, o);
  return (
    o.giantSteps * terms * costs.multiplyPlain +
    (o.giantSteps * (terms - 1) + (o.giantSteps - 1)) * costs.add +
    (hasBias ? costs.add : 0) +
    (o.giantSteps - 1) * costs.rotateRescaled +
    (rescale ? o.giantSteps * costs.rescale : 0) +
    costs.saveOutput
  );
}

/**
 * Which worker computes each output ciphertext, for `workers` workers: longest first, each to the
 * least loaded worker (ties to the lowest index). Deterministic, so every pool of a given size
 * gives each worker the same outputs, and a worker encodes the plaintexts of its outputs only.
 */
export function outputOwners(step: LinearPlanStep, workers: number): number[] {
  const costs = getParamSet(step.paramSet).costs;
  const rescale = getParamSet(step.paramSet).rescale;
  return assignOutputs(step.layout, step.outputs, step.bias !== null, rescale, costs, workers).owners;
}

function assignOutputs(
  layout: LinearLayout,
  outputs: readonly LinearOutput[],
  hasBias: boolean,
  rescale: boolean,
  costs: OpCosts,
  workers: number,
): { owners: number[]; loads: number[] } {
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`workers must be ≥ 1 (got ${workers}).`);
  const ms = outputs.map((o) => outputMs(layout, o, hasBias, rescale, costs));
  const order = ms.map((_, i) => i).sort((a, b) => (ms[b] as number) - (ms[a] as number) || a - b);
  const loads = new Array<number>(Math.min(workers, outputs.length)).fill(0);
  const owners = new Array<number>(outputs.length).fill(0);
  for (const i of order) {
    let best = 0;
    for (let k = 1; k < loads.length; k++) if ((loads[k] as number) < (loads[best] as number)) best = k;
    owners[i] = best;
    loads[best] = (loads[best] as number) + (ms[i] as number);
  }
  return { owners, loads };
}

/**
 * Modelled milliseconds of the busiest of `workers` workers: first the baby rotations, split over
 * every worker (`rotationShares`), then each worker's outputs.
 */
function makespan(
  layout: LinearLayout,
  outputs: readonly LinearOutput[],
  hasBias: boolean,
  rescale: boolean,
  costs: OpCosts,
  workers: number,
): number {
  const { loads } = assignOutputs(layout, outputs, hasBias, rescale, costs, workers);
  let babies = 0;
  for (let c = 0; c < layout.copies; c++) babies += layout.chunks * babyIndices(layout, outputs, c).length;
  const inputs = layout.chunks * layout.copies;
  const rotatePhase =
    Math.ceil(inputs / workers) * costs.loadInput + Math.ceil(babies / workers) * costs.rotate;
  return layout.groups * (rotatePhase + Math.max(...loads));
}

/** One rotated input the products read: input (group, chunk, copy) rotated by `baby`·T slots. */
export type RotationUnit = { group: number; chunk: number; copy: number; baby: number };

/**
 * Every rotated input of a step, in canonical order: by group, chunk and copy, the input itself
 * (baby 0) first, then its baby-step rotations. Outputs read these and nothing else.
 */
export function linearRotationUnits(step: LinearPlanStep): RotationUnit[] {
  const units: RotationUnit[] = [];
  for (let group = 0; group < step.layout.groups; group++) {
    for (let chunk = 0; chunk < step.layout.chunks; chunk++) {
      for (let copy = 0; copy < step.layout.copies; copy++) {
        units.push({ group, chunk, copy, baby: 0 });
        for (const baby of linearBabyRotations(step, copy)) units.push({ group, chunk, copy, baby });
      }
    }
  }
  return units;
}

/**
 * Which units of `linearRotationUnits` each of `workers` workers computes, so a pool rotates each
 * input once instead of once per worker: the rotations are cut into `workers` contiguous, nearly
 * equal runs (contiguous, so a worker loads few inputs), and an input's unrotated unit goes to
 * the worker that rotates it first (round robin over inputs when a step has no rotations).
 */
export function rotationShares(step: LinearPlanStep, workers: number): number[][] {
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`workers must be ≥ 1 (got ${workers}).`);
  const units = linearRotationUnits(step);
  const rotations = units.filter((u) => u.baby > 0).length;
  const shares: number[][] = Array.from({ length: workers }, () => []);
  let seen = 0;
  let inputs = 0;
  units.forEach((unit, index) => {
    if (unit.baby > 0) {
      shares[Math.floor((seen++ * workers) / rotations)]?.push(index);
      return;
    }
    const next = units[index + 1];
    const owner = next && next.baby > 0 ? Math.floor((seen * workers) / rotations) : inputs % workers;
    inputs++;
    shares[owner]?.push(index);
  });
  return shares;
}

/**
 * Splits R rows into output ciphertexts: full ones at window wMax, then the remainder at the
 * smallest window that holds it (so multiply-plain stays close to T·out·in/S).
 */
function partitionRows(R: number, blocks: number, wMax: number, full: boolean): LinearOutput[] {
  const outputs: LinearOutput[] = [];
  let start = 0;
  while (start < R) {
    const remaining = R - start;
    const capMax = blocks * wMax;
    const window = full || remaining >= capMax ? wMax : nextPow2(Math.ceil(remaining / blocks));
    const rows = Math.min(remaining, blocks * window);
    outputs.push({ rowStart: start, rows, window, giantSteps: 1 });
    start += rows;
  }
  return outputs;
}

/** Offsets e < E an output uses: all of them, or the first W when its window is narrower. */
const offsetsUsed = (layout: LinearLayout, o: LinearOutput) => Math.min(layout.span, o.window);

/** Baby-step rotation indices i (1 ≤ i < B) that some output needs, for copy `copy`. */
function babyIndices(layout: LinearLayout, outputs: readonly LinearOutput[], copy: number): number[] {
  const maxOffsets = Math.max(...outputs.map((o) => offsetsUsed(layout, o)));
  const out: number[] = [];
  for (let i = 1; i < layout.babySteps; i++) if (copy * layout.babySteps + i < maxOffsets) out.push(i);
  return out;
}

function rotationsFor(layout: LinearLayout, outputs: readonly LinearOutput[]): number[] {
  const steps = new Set<number>();
  for (let c = 0; c < layout.copies; c++) {
    for (const i of babyIndices(layout, outputs, c)) steps.add(i * layout.tokensPerCiphertext);
  }
  if (outputs.some((o) => o.giantSteps > 1)) steps.add(layout.span * layout.tokensPerCiphertext);
  return [...steps].sort((a, b) => a - b);
}

function estimateLinear(
  layout: LinearLayout,
  outputs: readonly LinearOutput[],
  hasBias: boolean,
  rescale: boolean,
  costs: OpCosts,
  set: { polyModulusDegree: number; coeffModulusBits: readonly number[] },
): LinearEstimate {
  let multiplyPlain = 0;
  let add = 0;
  let rotateGiant = 0;
  let rescales = 0;
  for (const o of outputs) {
    const terms = layout.chunks * offsetsUsed(layout, o);
    multiplyPlain += o.giantSteps * terms;
    add += o.giantSteps * (terms - 1) + (o.giantSteps - 1);
    rotateGiant += o.giantSteps - 1;
    if (rescale) rescales += o.giantSteps;
  }
  let rotate = 0;
  for (let c = 0; c < layout.copies; c++) rotate += layout.chunks * babyIndices(layout, outputs, c).length;
  const g = layout.groups;
  const addPlain = hasBias ? outputs.length * g : 0;
  const inputs = g * layout.chunks * layout.copies;
  const outs = g * outputs.length;
  const serverMs =
    inputs * costs.loadInput +
    outs * costs.saveOutput +
    g *
      (multiplyPlain * costs.multiplyPlain +
        add * costs.add +
        rotate * costs.rotate +
        rotateGiant * costs.rotateRescaled +
        rescales * costs.rescale);
  const N = set.polyModulusDegree;
  const dataPrimes = set.coeffModulusBits.length - 1;
  const outPrimes = rescale ? dataPrimes - 1 : dataPrimes;
  // Inputs travel seeded (one polynomial), outputs as two polynomials; 8 bytes per coefficient.
  const inputKiB = (N * dataPrimes * 8) / 1024;
  const outputKiB = (2 * N * outPrimes * 8) / 1024;
  const clientMs =
    inputs * (costs.encrypt + inputKiB * costs.perKiB) + outs * (costs.decrypt + outputKiB * costs.perKiB);
  return {
    multiplyPlain: g * multiplyPlain,
    add: g * add,
    addPlain,
    rotate: g * rotate,
    rotateGiant: g * rotateGiant,
    rescale: g * rescales,
    serverMs,
    clientMs,
  };
}

/** Index of an input ciphertext in a request. */
export function linearInputIndex(step: LinearPlanStep, group: number, chunk: number, copy: number): number {
  return (group * step.layout.chunks + chunk) * step.layout.copies + copy;
}

/** Index of an output ciphertext in a response. */
export function linearOutputIndex(step: LinearPlanStep, group: number, output: number): number {
  return group * step.outputs.length + output;
}

/** The work of one output ciphertext: which rotated input each diagonal multiplies. */
export type LinearTerm = {
  /** Giant step g. */
  giant: number;
  /** Input chunk c. */
  chunk: number;
  /** Offset e = copy·B + i. */
  offset: number;
  /** Client copy the offset comes from. */
  copy: number;
  /** Server rotation index i (the input is rotated by i·T). */
  baby: number;
};

/** Terms of output `o`, grouped by giant step (index g). */
export function linearTerms(step: LinearPlanStep, o: number): LinearTerm[][] {
  const { layout } = step;
  const out = step.outputs[o];
  if (!out) invalid(`${step.id}: no output ${o}.`);
  const byGiant: LinearTerm[][] = [];
  const offsets = offsetsUsed(layout, out);
  for (let g = 0; g < out.giantSteps; g++) {
    const terms: LinearTerm[] = [];
    for (let c = 0; c < layout.chunks; c++) {
      for (let e = 0; e < offsets; e++) {
        terms.push({
          giant: g,
          chunk: c,
          offset: e,
          copy: Math.floor(e / layout.babySteps),
          baby: e % layout.babySteps,
        });
      }
    }
    byGiant.push(terms);
  }
  return byGiant;
}

/** Baby rotations (index i ≥ 1) the server computes for each copy, shared by all outputs. */
export function linearBabyRotations(step: LinearPlanStep, copy: number): number[] {
  return babyIndices(step.layout, step.outputs, copy);
}

/** A dense tensor as the server holds it. */
export type Tensor = {
  /** Dimensions, e.g. [out, in] or [in, out]. */
  shape: readonly number[];
  /** Row-major values. */
  data: Float32Array | Float64Array;
};

/** Returns W[row][col] (row in the weight's outputs, col in its inputs) for the step's layout. */
export function weightAccessor(step: LinearPlanStep, weight: Tensor): (row: number, col: number) => number {
  const { inFeatures: inF, weightOutFeatures: outF } = step;
  const expected = step.weightLayout === "out-in" ? [outF, inF] : [inF, outF];
  if (weight.shape.length !== 2 || weight.shape[0] !== expected[0] || weight.shape[1] !== expected[1]) {
    invalid(
      `${step.id}: weight "${step.weight}" has shape [${weight.shape.join(", ")}], expected [${expected.join(", ")}] (${step.weightLayout}).`,
    );
  }
  if (weight.data.length !== inF * outF) invalid(`${step.id}: weight "${step.weight}" has the wrong length.`);
  const data = weight.data;
  return step.weightLayout === "out-in"
    ? (row, col) => data[row * inF + col] as number
    : (row, col) => data[col * outF + row] as number;
}

/** Output slot → (row within the output ciphertext, σ) or undefined when the slot is unused. */
function slotRow(
  layout: LinearLayout,
  out: LinearOutput,
  s: number,
): { rowLocal: number; sigma: number } | undefined {
  const q = Math.floor(s / layout.tokensPerCiphertext);
  const block = Math.floor(q / layout.chunk);
  const sigma = q % layout.chunk;
  const rowLocal = block * out.window + (sigma % out.window);
  return rowLocal < out.rows ? { rowLocal, sigma } : undefined;
}

/**
 * The plaintext diagonal P_{g,c,e} of output `o`, already rotated by g·E·T (baby-step/giant-step
 * form), or null when every slot is zero (the server skips the product).
 */
export function linearDiagonal(
  step: LinearPlanStep,
  w: (row: number, col: number) => number,
  o: number,
  term: Pick<LinearTerm, "giant" | "chunk" | "offset">,
): Float64Array | null {
  const { layout } = step;
  const out = step.outputs[o];
  if (!out) invalid(`${step.id}: no output ${o}.`);
  const S = layout.slots;
  const T = layout.tokensPerCiphertext;
  const p = layout.chunk;
  const shift = term.giant * layout.span * T;
  const values = new Float64Array(S);
  let nonZero = false;
  for (let u = 0; u < S; u++) {
    const s = (u - shift + S) % S;
    const at = slotRow(layout, out, s);
    if (!at) continue;
    const col = term.chunk * p + ((at.sigma + term.giant * layout.span + term.offset) % p);
    if (col >= step.inFeatures) continue;
    const outRow = out.rowStart + at.rowLocal;
    const row = step.rows ? (step.rows[outRow] as number) : outRow;
    const v = w(row, col);
    if (v !== 0) {
      values[u] = v;
      nonZero = true;
    }
  }
  return nonZero ? values : null;
}

/** Bias values for output `o`: each row's bias in the first of its slots (a = 0), every token. */
export function linearBiasSlots(step: LinearPlanStep, bias: Tensor, o: number): Float64Array {
  const out = step.outputs[o];
  if (!out) invalid(`${step.id}: no output ${o}.`);
  if (bias.data.length !== step.weightOutFeatures) {
    invalid(
      `${step.id}: bias "${step.bias}" has ${bias.data.length} values, expected ${step.weightOutFeatures}.`,
    );
  }
  const { layout } = step;
  const T = layout.tokensPerCiphertext;
  const values = new Float64Array(layout.slots);
  for (let r = 0; r < out.rows; r++) {
    const block = Math.floor(r / out.window);
    const tau = r % out.window;
    const q = block * layout.chunk + tau;
    const outRow = out.rowStart + r;
    const row = step.rows ? (step.rows[outRow] as number) : outRow;
    const b = bias.data[row] as number;
    for (let t = 0; t < T; t++) values[q * T + t] = b;
  }
  return values;
}

/**
 * Client side: lays tokens × inFeatures activations into the slot vectors of the request's input
 * ciphertexts (in `linearInputIndex` order).
 */
export function layoutLinearInputs(step: LinearPlanStep, x: readonly ArrayLike<number>[]): Float64Array[] {
  const { layout } = step;
  if (x.length !== step.tokens)
    invalid(`${step.id}: expected ${step.tokens} token vectors, got ${x.length}.`);
  for (const v of x) {
    if (v.length !== step.inFeatures)
      invalid(`${step.id}: token vectors must have ${step.inFeatures} values.`);
  }
  const S = layout.slots;
  const T = layout.tokensPerCiphertext;
  const p = layout.chunk;
  const result: Float64Array[] = [];
  for (let group = 0; group < layout.groups; group++) {
    for (let c = 0; c < layout.chunks; c++) {
      for (let copy = 0; copy < layout.copies; copy++) {
        const values = new Float64Array(S);
        for (let u = 0; u < S; u++) {
          const token = group * T + (u % T);
          const col = c * p + ((Math.floor(u / T) + copy * layout.babySteps) % p);
          const vec = x[token];
          if (vec && col < step.inFeatures) values[u] = vec[col] as number;
        }
        result.push(values);
      }
    }
  }
  return result;
}

/**
 * Client side: turns the decoded slot vectors of the response (in `linearOutputIndex` order) into
 * tokens × outFeatures values, adding each row's p/W partial sums.
 */
export function readLinearOutputs(step: LinearPlanStep, slots: readonly ArrayLike<number>[]): Float64Array[] {
  const { layout } = step;
  if (slots.length !== step.outputCiphertexts) {
    invalid(`${step.id}: expected ${step.outputCiphertexts} output vectors, got ${slots.length}.`);
  }
  const T = layout.tokensPerCiphertext;
  const p = layout.chunk;
  const y = Array.from({ length: step.tokens }, () => new Float64Array(step.outFeatures));
  for (let group = 0; group < layout.groups; group++) {
    step.outputs.forEach((out, o) => {
      const v = slots[linearOutputIndex(step, group, o)] as ArrayLike<number>;
      const parts = p / out.window;
      for (let t = 0; t < T; t++) {
        const yt = y[group * T + t];
        if (!yt) continue;
        for (let r = 0; r < out.rows; r++) {
          const base = Math.floor(r / out.window) * p + (r % out.window);
          let sum = 0;
          for (let a = 0; a < parts; a++) sum += v[(base + a * out.window) * T + t] as number;
          yt[out.rowStart + r] = sum;
        }
      }
    });
  }
  return y;
}

/**
 * Checks that a step (e.g. parsed from JSON) is internally consistent: the derived fields must be
 * what the layout implies, so a tampered plan cannot make the server allocate or rotate more.
 */
export function checkLinearStep(step: LinearPlanStep): void {
  const set = getParamSet(step.paramSet);
  const S = slotCount(set);
  const L = step.layout;
  const fail = (why: string) => invalid(`Plan step "${step.id}" is inconsistent: ${why}.`);
  if (L.slots !== S) fail(`slots ${L.slots} ≠ ${S}`);
  for (const [k, v] of Object.entries({
    chunk: L.chunk,
    T: L.tokensPerCiphertext,
    copies: L.copies,
    babySteps: L.babySteps,
  })) {
    if (!isPow2(v)) fail(`${k} must be a power of two`);
  }
  if (L.chunk * L.tokensPerCiphertext > S) fail("chunk × tokensPerCiphertext exceeds the slots");
  if (L.span !== L.copies * L.babySteps || L.span > L.chunk) fail("span must be copies × babySteps ≤ chunk");
  if (L.chunks !== Math.ceil(step.inFeatures / L.chunk)) fail("chunks ≠ ceil(inFeatures / chunk)");
  if (L.groups !== Math.ceil(step.tokens / L.tokensPerCiphertext)) fail("groups ≠ ceil(tokens / T)");
  if (step.outFeatures !== (step.rows ? step.rows.length : step.weightOutFeatures)) fail("outFeatures");
  if (step.rows?.some((r) => !Number.isInteger(r) || r < 0 || r >= step.weightOutFeatures)) fail("rows");
  const blocks = S / (L.tokensPerCiphertext * L.chunk);
  let next = 0;
  for (const o of step.outputs) {
    if (o.rowStart !== next) fail("outputs must cover the rows in order");
    if (!isPow2(o.window) || o.window > L.chunk) fail("window must be a power of two ≤ chunk");
    if (o.rows < 1 || o.rows > blocks * o.window) fail("output rows exceed its capacity");
    if (o.giantSteps !== Math.max(1, o.window / L.span)) fail("giantSteps ≠ window / span");
    next += o.rows;
  }
  if (next !== step.outFeatures) fail("outputs do not cover every row");
  const rotations = rotationsFor(L, step.outputs);
  if (rotations.join(",") !== step.rotations.join(",")) fail("rotations differ from the layout's");
  if (step.inputCiphertexts !== L.groups * L.chunks * L.copies) fail("inputCiphertexts");
  if (step.outputCiphertexts !== L.groups * step.outputs.length) fail("outputCiphertexts");
  const memory = memoryOf(step.paramSet, L, step.outputs, step.bias !== null);
  if (
    step.memory?.plaintexts !== memory.plaintexts ||
    step.memory.bytes !== memory.bytes ||
    step.memory.largestOutputBytes !== memory.largestOutputBytes
  )
    fail("memory differs from the layout's");
}
