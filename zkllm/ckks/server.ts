/**
 * The server side: a stateless evaluator of plan steps over ciphertexts.
 *
 * "Stateless" towards clients: it holds the model (weights, and the diagonal plaintexts derived
 * from them) and no client state; each request brings its ciphertexts and a handle to the
 * session's evaluation keys. It never sees a secret key and never imports `client.ts`.
 *
 * Requests are untrusted. Everything is checked before SEAL runs (plan step known and identical,
 * ciphertext count, blob headers and SEAL structure, level and scale, rotation keys present),
 * every refusal is a `ZkllmInputError`, and every SEAL object a request creates is deleted in a
 * `finally`, so a bad request leaves the evaluator (and its WASM heap) as it was.
 *
 * Evaluation is deterministic: the same input bytes, keys and step give byte-identical outputs
 * (validators replay jobs and compare hashes), also when a pool splits the outputs over workers.
 */
import type { CipherText } from "node-seal/implementation/cipher-text";
import type { GaloisKeys } from "node-seal/implementation/galois-keys";
import type { PlainText } from "node-seal/implementation/plain-text";
import type { RelinKeys } from "node-seal/implementation/relin-keys";
import { createActionCounter, type ActionCounter } from "./actions";
import { CIPHERTEXT_DATA_OFFSET, MacKernel, type Block } from "./mac-kernel";
import { ZkllmInputError } from "./errors";
import {
  linearBiasSlots,
  linearDiagonal,
  linearInputIndex,
  linearOutputIndex,
  linearRotationUnits,
  linearTerms,
  outputPlaintextBytes,
  plaintextShareKey,
  weightAccessor,
  type LinearPlanStep,
  type LinearTerm,
  type RotationUnit,
  type Tensor,
} from "./linear";
import {
  dataPrimeCount,
  galoisElementForStep,
  getCkksContext,
  type CkksContext,
  type ParamSet,
  type ParamSetId,
} from "./params";
import { checkPlan, type EnginePlan, type PlanStep } from "./plan";
import {
  initZstd,
  loadCiphertext,
  loadGaloisKeys,
  loadRelinKeys,
  saveCiphertext,
  type EvalKeyBlobs,
} from "./serialize";

export type { EvalKeyBlobs } from "./serialize";

/** A session's evaluation keys, loaded into SEAL. */
export type EvalKeys = {
  readonly paramSet: ParamSetId;
  /** Galois elements the keys cover. */
  readonly galoisElements: ReadonlySet<number>;
  /** Whether relinearization keys are present. */
  readonly hasRelinearization: boolean;
  /** Bytes of the blobs they came from. */
  readonly bytes: number;
  /** Frees the keys. */
  delete(): void;
};

/** Where the evaluator finds weight tensors by name. */
export type WeightSource = Readonly<Record<string, Tensor>> | ((name: string) => Tensor | undefined);

/** Options of `createEvaluator`. */
export type CreateEvaluatorOptions = {
  /** The steps this evaluator serves. */
  plan: EnginePlan;
  weights: WeightSource;
  /** Counter to record actions into (default: a fresh one, see `evaluator.actions`). */
  actions?: ActionCounter;
  /**
   * Bytes of encoded plaintexts the cache may hold (default: no limit). Past it, the least
   * recently used outputs' plaintexts are freed and re-encoded when next needed, so a model
   * larger than a WebAssembly memory still runs, only slower.
   */
  memoryBudget?: number;
};

/** What the plaintext cache did so far. */
export type CacheStats = {
  /** Bytes held now. */
  bytes: number;
  /** The budget (Infinity when unlimited). */
  budget: number;
  /** Outputs whose plaintexts are held now. */
  entries: number;
  hits: number;
  misses: number;
  evictions: number;
};

/** Options of one evaluation. */
export type EvaluateOptions = {
  /**
   * Compute only these outputs (indices in `linearOutputIndex` order), e.g. a pool's share of a
   * request; results come back in this order. Default: all outputs.
   */
  outputs?: readonly number[];
  /** Also count this request's actions here. */
  actions?: ActionCounter;
};

/** An evaluator serving one plan. */
export type CkksEvaluator = {
  readonly paramSet: ParamSet;
  readonly plan: EnginePlan;
  /** Actions of every request so far. */
  readonly actions: ActionCounter;
  /** Loads and checks a session's evaluation keys. */
  loadEvalKeys(blobs: EvalKeyBlobs): EvalKeys;
  /**
   * Encodes a step's diagonal plaintexts now instead of on its first request: every output, or
   * only `outputs` (a pool worker's share). Stops, returning false, when the next output would not
   * fit the memory budget (what is already cached stays).
   */
  prepare(step: string | PlanStep, outputs?: readonly number[]): boolean;
  /**
   * Encodes every step of the plan, in order, until the budget is full (what a miner does before
   * its first job); `onProgress` hears (steps done, steps). Returns whether everything fitted.
   */
  warmUp(onProgress?: (done: number, total: number) => void): boolean;
  /** Runs one plan step: input ciphertext blobs in, output ciphertext blobs out. */
  evaluate(
    step: string | PlanStep,
    inputs: readonly Uint8Array[],
    keys: EvalKeys,
    options?: EvaluateOptions,
  ): Uint8Array[];
  /**
   * The first half of `evaluate`, for a pool that rotates each input once in all: loads the inputs
   * these units of `linearRotationUnits` need and returns each unit's ciphertext (the input or a
   * baby-step rotation of it), serialized uncompressed. `units` must be increasing.
   */
  rotate(
    step: string | PlanStep,
    inputs: readonly Uint8Array[],
    keys: EvalKeys,
    units: readonly number[],
    options?: Pick<EvaluateOptions, "actions">,
  ): Uint8Array[];
  /**
   * The second half: computes outputs from every unit's ciphertext as `rotate` returned them (from
   * any evaluator of the same plan). Gives the same bytes as `evaluate`. The rotated inputs are
   * trusted (this evaluator's own pool made them); only their count and sizes are checked.
   */
  evaluateRotated(
    step: string | PlanStep,
    rotated: readonly Uint8Array[],
    keys: EvalKeys,
    options?: EvaluateOptions,
  ): Uint8Array[];
  /** Bytes held by cached plaintexts (inside the WASM heap). */
  cacheBytes(): number;
  /** The cache's figures. */
  cacheStats(): CacheStats;
  /** Bytes reserved by this thread's SEAL heap. */
  heapBytes(): number;
  /** Frees the cached plaintexts (they are re-encoded on demand). */
  clearCache(): void;
  /** Frees everything; the evaluator is unusable afterwards. */
  delete(): void;
};

type Count = (kind: Parameters<ActionCounter["count"]>[0]) => void;

type LoadedKeys = EvalKeys & { galois?: GaloisKeys; relin?: RelinKeys; deleted: boolean };

/** One output's plaintexts, the unit the cache holds and evicts. */
type PreparedOutput = {
  /** [giant][term] plaintexts in the kernel's memory (null: an all-zero diagonal, skipped). */
  diagonals: (Block | null)[][];
  /** Terms per giant step, matching `diagonals`. */
  terms: LinearTerm[][];
  /** The bias plaintext (null: no bias). */
  bias: PlainText | null;
  bytes: number;
};

/** Creates an evaluator for a plan and its weights. */
export async function createEvaluator(options: CreateEvaluatorOptions): Promise<CkksEvaluator> {
  await initZstd();
  checkPlan(options.plan);
  const ctx = await getCkksContext(options.plan.paramSet);
  return buildEvaluator(ctx, options);
}

function buildEvaluator(ctx: CkksContext, options: CreateEvaluatorOptions): CkksEvaluator {
  const { seal, set, evaluator: ev } = ctx;
  const plan = options.plan;
  const actions = options.actions ?? createActionCounter();
  const steps = new Map(plan.steps.map((s) => [s.id, s]));
  const stepJson = new Map(plan.steps.map((s) => [s.id, stableJson(s)]));
  const keyHandles = new WeakSet<object>();
  const unitsByStep = new Map<string, RotationUnit[]>();
  const rotationUnits = (step: LinearPlanStep): RotationUnit[] => {
    let units = unitsByStep.get(step.id);
    if (!units) unitsByStep.set(step.id, (units = linearRotationUnits(step)));
    return units;
  };
  let deleted = false;

  const getWeight = (name: string): Tensor => {
    const t = typeof options.weights === "function" ? options.weights(name) : options.weights[name];
    if (!t) throw new ZkllmInputError("InvalidPlan", `The evaluator has no tensor "${name}".`);
    return t;
  };

  const resolve = (step: string | PlanStep): LinearPlanStep => {
    if (deleted) throw new Error("This CKKS evaluator has been deleted.");
    const id = typeof step === "string" ? step : step?.id;
    const known = typeof id === "string" ? steps.get(id) : undefined;
    if (!known) throw new ZkllmInputError("UnknownPlanStep", `Unknown plan step "${String(id)}".`);
    // A step object must be the served one, byte for byte: a client cannot redefine a layout.
    if (typeof step !== "string" && stableJson(step) !== stepJson.get(known.id)) {
      throw new ZkllmInputError(
        "UnknownPlanStep",
        `Plan step "${known.id}" differs from the one this evaluator serves.`,
      );
    }
    return known;
  };

  const budget = options.memoryBudget ?? Infinity;
  if (!(budget > 0)) throw new RangeError(`memoryBudget must be positive (got ${budget}).`);
  // Map order is recency order: the first entry is the least recently used.
  const cache = new Map<string, PreparedOutput>();
  const shareKeys = new Map(plan.steps.map((s) => [s.id, plaintextShareKey(s)]));
  const stats = { bytes: 0, hits: 0, misses: 0, evictions: 0 };
  const entryBytes = set.polyModulusDegree * dataPrimeCount(set) * 8;

  // Diagonals live in the multiply-accumulate kernel's memory, not SEAL's heap.
  const kernel = new MacKernel(set.polyModulusDegree, ctx.levelModuli[0] as readonly bigint[]);
  const none = seal.ComprModeType.none;

  const freeOutput = (p: PreparedOutput) => {
    for (const block of p.diagonals.flat()) if (block !== null) kernel.freePlaintext(block);
    p.bias?.delete();
  };

  const evictFor = (incoming: number, keep?: string) => {
    for (const [key, entry] of cache) {
      if (stats.bytes + incoming <= budget) break;
      if (key === keep) continue;
      cache.delete(key);
      freeOutput(entry);
      stats.bytes -= entry.bytes;
      stats.evictions++;
    }
  };

  const encodeOutput = (step: LinearPlanStep, o: number): PreparedOutput => {
    const w = weightAccessor(step, getWeight(step.weight));
    const biasTensor = step.bias ? getWeight(step.bias) : undefined;
    const created: PlainText[] = [];
    const blocks: Block[] = [];
    const encode = (values: Float64Array, scale: number): PlainText => {
      const pt = seal.PlainText();
      created.push(pt);
      ctx.encoder.encode(values, scale, pt);
      actions.count("encode");
      return pt;
    };
    const encodeDiagonal = (values: Float64Array): Block => {
      const pt = seal.PlainText();
      try {
        ctx.encoder.encode(values, ctx.weightScale, pt);
        actions.count("encode");
        const block = kernel.storePlaintext(pt.saveArray(none));
        blocks.push(block);
        return block;
      } finally {
        pt.delete();
      }
    };
    try {
      const terms = linearTerms(step, o);
      const diagonals = terms.map((list) =>
        list.map((term) => {
          const values = linearDiagonal(step, w, o, term);
          return values ? encodeDiagonal(values) : null;
        }),
      );
      // The g = 0 sum must exist: the bias joins it, and an all-zero output cannot be encrypted.
      if (!diagonals[0]?.some((pt) => pt)) {
        throw new ZkllmInputError(
          "InvalidPlan",
          `Step "${step.id}" output ${o}: the weights of its first giant step are all zero; drop those rows (rows option).`,
        );
      }
      // The bias joins the g = 0 sum before the rescale, so it is encoded at the product's scale.
      const bias = biasTensor
        ? encode(linearBiasSlots(step, biasTensor, o), ctx.inputScale * ctx.weightScale)
        : null;
      return { diagonals, terms, bias, bytes: (created.length + blocks.length) * entryBytes };
    } catch (error) {
      for (const pt of created) pt.delete();
      for (const block of blocks) kernel.freePlaintext(block);
      throw error;
    }
  };

  /** Output `o`'s plaintexts, from the cache or freshly encoded (and cached within the budget). */
  const prepareOutput = (step: LinearPlanStep, o: number): PreparedOutput => {
    const key = `${shareKeys.get(step.id)}#${o}`;
    const cached = cache.get(key);
    if (cached) {
      stats.hits++;
      cache.delete(key);
      cache.set(key, cached);
      return cached;
    }
    stats.misses++;
    evictFor(outputPlaintextBytes(step, o));
    const prepared = encodeOutput(step, o);
    cache.set(key, prepared);
    stats.bytes += prepared.bytes;
    // An output larger than the whole budget is still used once; it goes first next time.
    evictFor(0, key);
    return prepared;
  };

  const loadEvalKeys = (blobs: EvalKeyBlobs): EvalKeys => {
    if (deleted) throw new Error("This CKKS evaluator has been deleted.");
    if (!blobs || typeof blobs !== "object")
      throw new ZkllmInputError("BadRequest", "Evaluation keys are missing.");
    let galois: { keys: GaloisKeys; elements: number[] } | undefined;
    let relin: RelinKeys | undefined;
    try {
      if (blobs.galois !== undefined) galois = loadGaloisKeys(ctx, blobs.galois);
      if (blobs.relin !== undefined) relin = loadRelinKeys(ctx, blobs.relin);
    } catch (error) {
      galois?.keys.delete();
      throw error;
    }
    const handle: LoadedKeys = {
      paramSet: set.id,
      galoisElements: new Set(galois?.elements ?? []),
      hasRelinearization: relin !== undefined,
      bytes: (blobs.galois?.length ?? 0) + (blobs.relin?.length ?? 0),
      galois: galois?.keys,
      relin,
      deleted: false,
      delete() {
        if (handle.deleted) return;
        handle.deleted = true;
        handle.galois?.delete();
        handle.relin?.delete();
      },
    };
    keyHandles.add(handle);
    return handle;
  };

  /**
   * Loads the inputs `units` need and hands each unit's ciphertext (the input, or its rotation by
   * baby·T) to `sink`, which must copy what it keeps: the ciphertext is freed right after. Each
   * input is loaded, checked and rotated once however many units use it.
   */
  const forEachUnit = (
    step: LinearPlanStep,
    inputs: readonly Uint8Array[],
    keys: LoadedKeys,
    units: readonly number[],
    count: Count,
    sink: (unit: number, ct: CipherText) => void,
  ): void => {
    const all = rotationUnits(step);
    const T = step.layout.tokensPerCiphertext;
    let input: CipherText | undefined;
    let inputIndex = -1;
    const live: CipherText[] = [];
    try {
      for (const u of units) {
        const unit = all[u] as RotationUnit;
        const index = linearInputIndex(step, unit.group, unit.chunk, unit.copy);
        if (index !== inputIndex) {
          input?.delete();
          input = undefined;
          inputIndex = index;
          input = loadCiphertext(ctx, inputs[index] as Uint8Array, {
            seeded: "required",
            level: 0,
            scale: ctx.inputScale,
            name: `input ciphertext ${index}`,
          });
        }
        if (unit.baby === 0) {
          sink(u, input as CipherText);
          continue;
        }
        const r = seal.CipherText();
        live.push(r);
        ev.rotateVector(input as CipherText, unit.baby * T, keys.galois as GaloisKeys, r);
        count("rotate");
        sink(u, r);
        live.pop();
        r.delete();
      }
    } finally {
      input?.delete();
      for (const ct of live) ct.delete();
    }
  };

  const evaluateLinear = (
    step: LinearPlanStep,
    inputs: readonly Uint8Array[] | null,
    rotatedRaw: readonly Uint8Array[] | null,
    keys: LoadedKeys,
    wanted: readonly number[],
    count: Count,
  ): Uint8Array[] => {
    const { layout } = step;
    const T = layout.tokensPerCiphertext;
    const units = rotationUnits(step);
    const results = new Map<number, Uint8Array>();
    const live: (CipherText | undefined)[] = [];
    const blocks: Block[] = [];
    const track = <C extends CipherText>(ct: C): C => {
      live.push(ct);
      return ct;
    };
    const drop = (ct: CipherText) => {
      const i = live.indexOf(ct);
      if (i >= 0) live[i] = undefined;
      ct.delete();
    };
    try {
      const perGroup = new Map<number, number[]>();
      for (const index of wanted) {
        const group = Math.floor(index / step.outputs.length);
        perGroup.set(group, [...(perGroup.get(group) ?? []), index % step.outputs.length]);
      }
      for (const [group, outs] of perGroup) {
        // rotated[chunk][copy][i] = input rotated by i·T (i = 0 is the input itself), hoisted,
        // and copied into the kernel's memory where the products are summed.
        const rotated: Block[][][] = Array.from({ length: layout.chunks }, () =>
          Array.from({ length: layout.copies }, () => []),
        );
        let header: Uint8Array | undefined;
        const store = (u: number, raw: Uint8Array) => {
          const unit = units[u] as RotationUnit;
          header ??= raw.slice(0, CIPHERTEXT_DATA_OFFSET);
          const block = kernel.storeCiphertext(raw);
          blocks.push(block);
          (rotated[unit.chunk]?.[unit.copy] as Block[])[unit.baby] = block;
        };
        const mine = units.flatMap((unit, u) => (unit.group === group ? [u] : []));
        if (rotatedRaw) for (const u of mine) store(u, rotatedRaw[u] as Uint8Array);
        else
          forEachUnit(step, inputs as readonly Uint8Array[], keys, mine, count, (u, ct) =>
            store(u, ct.saveArray(none)),
          );
        for (const o of outs) {
          const out = step.outputs[o];
          if (!out) continue;
          const prepared = prepareOutput(step, o);
          let result: CipherText | undefined;
          for (let g = out.giantSteps - 1; g >= 0; g--) {
            let acc: CipherText | undefined;
            const terms = prepared.terms[g] ?? [];
            let summed = 0;
            kernel.clear();
            terms.forEach((term, k) => {
              const pt = prepared.diagonals[g]?.[k];
              if (pt === null || pt === undefined) return;
              kernel.add(rotated[term.chunk]?.[term.copy]?.[term.baby] as Block, pt);
              count("multiplyPlain");
              if (summed++ > 0) count("add");
            });
            if (summed > 0) {
              acc = track(seal.CipherText());
              acc.loadArray(
                ctx.context,
                kernel.result(header as Uint8Array, ctx.inputScale * ctx.weightScale),
              );
            }
            const biasPt = g === 0 ? prepared.bias : null;
            if (acc && biasPt) {
              ev.addPlain(acc, biasPt, acc);
              count("addPlain");
            }
            if (acc && set.rescale) {
              ev.rescaleToNext(acc, acc);
              count("rescale");
            }
            if (result) {
              // Horner: result = rot(result, E·T) + acc_g, so one giant-step key serves every g.
              ev.rotateVector(result, layout.span * T, keys.galois as GaloisKeys, result);
              count("rotate");
              if (acc) {
                ev.add(result, acc, result);
                count("add");
                drop(acc);
              }
            } else {
              // A giant step whose diagonals are all zero contributes nothing (SEAL refuses to
              // produce an all-zero "transparent" ciphertext, so it is skipped, not computed).
              result = acc;
            }
          }
          results.set(linearOutputIndex(step, group, o), saveCiphertext(ctx, result as CipherText));
          drop(result as CipherText);
        }
        for (const block of blocks.splice(0)) kernel.freeCiphertext(block);
      }
    } finally {
      for (const ct of live) ct?.delete();
      for (const block of blocks) kernel.freeCiphertext(block);
    }
    return wanted.map((i) => results.get(i) as Uint8Array);
  };

  const checkInputs = (step: LinearPlanStep, inputs: readonly Uint8Array[]) => {
    if (!Array.isArray(inputs) || inputs.length !== step.inputCiphertexts) {
      throw new ZkllmInputError(
        "BadRequest",
        `Step "${step.id}" takes ${step.inputCiphertexts} input ciphertexts; got ${Array.isArray(inputs) ? inputs.length : typeof inputs}.`,
      );
    }
  };

  const checkKeys = (step: LinearPlanStep, keys: EvalKeys): LoadedKeys => {
    if (!keys || !keyHandles.has(keys)) {
      throw new ZkllmInputError(
        "BadRequest",
        "Evaluation keys must come from this evaluator's loadEvalKeys.",
      );
    }
    const loaded = keys as LoadedKeys;
    if (loaded.deleted) throw new ZkllmInputError("BadRequest", "These evaluation keys have been deleted.");
    const missing = step.rotations.filter(
      (r) => !loaded.galoisElements.has(galoisElementForStep(r, set.polyModulusDegree)),
    );
    if (missing.length > 0) {
      throw new ZkllmInputError(
        "MissingRotationKey",
        `Step "${step.id}" rotates by ${missing.join(", ")} slots; the evaluation keys lack ${missing.length === 1 ? "that step" : "those steps"}.`,
      );
    }
    return loaded;
  };

  const checkWanted = (step: LinearPlanStep, outputs: readonly number[] | undefined): number[] => {
    const wanted = outputs ? [...outputs] : Array.from({ length: step.outputCiphertexts }, (_, i) => i);
    for (const i of wanted) {
      if (!Number.isInteger(i) || i < 0 || i >= step.outputCiphertexts) {
        throw new ZkllmInputError(
          "BadRequest",
          `Output index ${i} is outside 0..${step.outputCiphertexts - 1}.`,
        );
      }
    }
    return wanted;
  };

  const counter =
    (extra: ActionCounter | undefined): Count =>
    (kind) => {
      actions.count(kind);
      extra?.count(kind);
    };

  return {
    paramSet: set,
    plan,
    actions,
    loadEvalKeys,
    prepare(stepRef, outputs) {
      const step = resolve(stepRef);
      for (const o of outputs ?? step.outputs.map((_, i) => i)) {
        if (!Number.isInteger(o) || o < 0 || o >= step.outputs.length)
          throw new ZkllmInputError("BadRequest", `Step "${step.id}" has no output ${o}.`);
        if (cache.has(`${shareKeys.get(step.id)}#${o}`)) continue;
        if (stats.bytes + outputPlaintextBytes(step, o) > budget) return false;
        prepareOutput(step, o);
      }
      return true;
    },
    evaluate(stepRef, inputs, keys, opts = {}) {
      const step = resolve(stepRef);
      checkInputs(step, inputs);
      const loaded = checkKeys(step, keys);
      const wanted = checkWanted(step, opts.outputs);
      return evaluateLinear(step, inputs, null, loaded, wanted, counter(opts.actions));
    },
    rotate(stepRef, inputs, keys, wantedUnits, opts = {}) {
      const step = resolve(stepRef);
      checkInputs(step, inputs);
      const loaded = checkKeys(step, keys);
      const count = rotationUnits(step).length;
      const list = [...wantedUnits];
      list.forEach((u, i) => {
        if (!Number.isInteger(u) || u < 0 || u >= count || (i > 0 && u <= (list[i - 1] as number)))
          throw new ZkllmInputError(
            "BadRequest",
            `Rotation units must be increasing indices in 0..${count - 1} (got ${u}).`,
          );
      });
      const out: Uint8Array[] = [];
      forEachUnit(step, inputs, loaded, list, counter(opts.actions), (_, ct) => out.push(ct.saveArray(none)));
      return out;
    },
    evaluateRotated(stepRef, rotated, keys, opts = {}) {
      const step = resolve(stepRef);
      const units = rotationUnits(step);
      const size = CIPHERTEXT_DATA_OFFSET + 2 * entryBytes;
      if (
        !Array.isArray(rotated) ||
        rotated.length !== units.length ||
        rotated.some((r) => r?.length !== size)
      )
        throw new ZkllmInputError(
          "BadRequest",
          `Step "${step.id}" needs ${units.length} rotated inputs of ${size} bytes each (from rotate).`,
        );
      const loaded = checkKeys(step, keys);
      const wanted = checkWanted(step, opts.outputs);
      return evaluateLinear(step, null, rotated, loaded, wanted, counter(opts.actions));
    },
    warmUp(onProgress) {
      for (const [done, step] of plan.steps.entries()) {
        if (!this.prepare(step.id)) return false;
        onProgress?.(done + 1, plan.steps.length);
      }
      return true;
    },
    cacheBytes() {
      return stats.bytes;
    },
    cacheStats() {
      return { ...stats, budget, entries: cache.size };
    },
    heapBytes() {
      return ctx.runtime.heapBytes();
    },
    clearCache() {
      for (const p of cache.values()) freeOutput(p);
      cache.clear();
      stats.bytes = 0;
    },
    delete() {
      if (deleted) return;
      this.clearCache();
      deleted = true;
    },
  };
}

/** JSON of a value, or a marker when it cannot be serialized (cycles, BigInt): never throws. */
function stableJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return "\u0000unserializable";
  }
}
