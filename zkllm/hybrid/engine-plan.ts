/**
 * From a split model to the encrypted engine's plan: one CKKS linear step per server product
 * and per token bucket. A request carries a fixed number of token rows (a bucket: 1 while
 * generating, `prefill` for the prompt), so the rotation steps, and with them the evaluation
 * keys the client sends once, are known in advance.
 */
import { type LinearPlanStep, type Tensor, planLinear } from "../ckks/linear";
import type { ParamSetId } from "../ckks/params";
import { type EnginePlan, createPlan } from "../ckks/plan";
import type { ServerStep } from "./split-model";

/** Rows per request: one while generating; prompts travel in chunks of `prefill`. */
export type TokenBuckets = { prefill: number };
export const DEFAULT_BUCKETS: TokenBuckets = { prefill: 16 };

/** The plan step id for a server product at a bucket size. */
export function bucketStepId(stepId: string, tokens: number): string {
  return `${stepId}@${tokens}`;
}

export function buildEnginePlan(
  server: readonly ServerStep[],
  paramSet: ParamSetId,
  buckets: TokenBuckets = DEFAULT_BUCKETS,
): EnginePlan {
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
        }),
      );
    }
  }
  return createPlan(paramSet, steps);
}

/** The weights an evaluator needs, by the names the plan uses. */
export function serverWeights(server: readonly ServerStep[]): Record<string, Tensor> {
  return Object.fromEntries(
    server.map((s) => [s.id, { shape: [s.inFeatures, s.outFeatures], data: s.weight }]),
  );
}
