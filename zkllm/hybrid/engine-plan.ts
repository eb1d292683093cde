/**
 * From a split model to the encrypted engine's plan: one CKKS linear step per server product
 * and per token bucket. A request carries a fixed number of token rows (a bucket: 1 while
 * generating, `prefill` for every part of the prompt, padded), so the rotation steps, and with
 * them the evaluation keys the client sends once, are known in advance, and a miner learns a
 * prompt's length only to the bucket.
 *
 * Memory decides the prompt layout. Interleaving the bucket's rows in one ciphertext (T > 1)
 * saves rotations but needs T times the plaintexts of the one-row step; with T = 1 the prompt
 * step encodes exactly the one-row step's plaintexts (the evaluator holds them once). Small
 * models interleave; a model whose interleaved plan would exceed `memoryTarget` uses T = 1 and
 * a smaller bucket (padding rows cost full price there).
 */
import { type LinearPlanStep, type Tensor, planLinear } from "../ckks/linear";
import type { ParamSetId } from "../ckks/params";
import { type EnginePlan, createPlan, planMemory } from "../ckks/plan";
import type { ServerStep } from "./split-model";

/** Rows per request: one while generating; prompts travel in chunks of `prefill`. */
export type TokenBuckets = { prefill: number };
export const DEFAULT_BUCKETS: TokenBuckets = { prefill: 16 };
/** The bucket of prompts whose rows travel one per ciphertext (T = 1). */
export const SHARED_LAYOUT_BUCKETS: TokenBuckets = { prefill: 4 };

/** Options of `buildEnginePlan`. */
export type EnginePlanOptions = {
  /** Force the buckets (default: chosen with the layout, see the module comment). */
  buckets?: TokenBuckets;
  /** Workers the layouts are optimised for (default 4: within 6 % of the best one-core time and 2.5× faster on 8 workers for GPT-2 small; any pool size serves the plan). */
  parallelism?: number;
  /** Most plaintext bytes an interleaved prompt layout may bring the plan to (default 1 GiB). */
  memoryTarget?: number;
};

export const DEFAULT_PARALLELISM = 4;
export const DEFAULT_MEMORY_TARGET = 1024 ** 3;

/** The plan step id for a server product at a bucket size. */
export function bucketStepId(stepId: string, tokens: number): string {
  return `${stepId}@${tokens}`;
}

/** The engine plan of a split model and the prompt bucket it was made for. */
export function buildEnginePlan(
  server: readonly ServerStep[],
  paramSet: ParamSetId,
  options: EnginePlanOptions = {},
): { engine: EnginePlan; buckets: TokenBuckets } {
  const parallelism = options.parallelism ?? DEFAULT_PARALLELISM;
  const build = (buckets: TokenBuckets, maxT: number | undefined) => {
    const sizes = [...new Set([1, buckets.prefill])];
    const steps: LinearPlanStep[] = [];
    for (const s of server) {
      for (const tokens of sizes) {
        steps.push(
          planLinear({
            id: bucketStepId(s.id, tokens),
            paramSet,
            inFeatures: s.inFeatures,
            outFeatures: s.outFeatures,
            tokens,
            weight: s.id,
            bias: null,
            weightLayout: "in-out",
            parallelism,
            ...(maxT !== undefined ? { maxTokensPerCiphertext: maxT } : {}),
          }),
        );
      }
    }
    return createPlan(paramSet, steps);
  };
  if (options.buckets) return { engine: build(options.buckets, undefined), buckets: options.buckets };
  const interleaved = build(DEFAULT_BUCKETS, undefined);
  if (planMemory(interleaved, 1).totalBytes <= (options.memoryTarget ?? DEFAULT_MEMORY_TARGET))
    return { engine: interleaved, buckets: DEFAULT_BUCKETS };
  return { engine: build(SHARED_LAYOUT_BUCKETS, 1), buckets: SHARED_LAYOUT_BUCKETS };
}

/** The weights an evaluator needs, by the names the plan uses. */
export function serverWeights(server: readonly ServerStep[]): Record<string, Tensor> {
  return Object.fromEntries(
    server.map((s) => [s.id, { shape: [s.inFeatures, s.outFeatures], data: s.weight }]),
  );
}
