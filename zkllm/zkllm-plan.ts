/**
 * zkllm-plan.json, the squeezed encrypted-inference plan of a converted model (convert.ts writes
 * it): its schema, parsing it with the check that it was made for the model's weights, and the
 * client/server split it describes. Pure (the file's text and the weights' digest in), so the
 * client door can use it in a browser.
 */
import { z } from "zod";
import { type EnginePlan, parsePlan } from "./ckks/plan";
import type { Gpt2Checkpoint } from "./model/checkpoint";
import { type SplitModel, splitModel } from "./hybrid/split-model";
import type { SessionOptions } from "./hybrid/session";

export const PLAN_FILE = "zkllm-plan.json";

const quantizeSchema = z.object({
  threshold: z.number(),
  alpha: z.number().positive(),
  levels: z.number().int().min(2),
  rounding: z.enum(["floor", "nearest"]).optional(),
});

/** The plan file, validated when a miner or client loads it. */
export const zkllmPlanSchema = z.object({
  version: z.literal(1),
  /** sha256 of model.safetensors: the weights this plan was made for. */
  modelSha256: z.string().regex(/^[0-9a-f]{64}$/),
  squeeze: z.object({
    fuse: z.boolean(),
    quantize: quantizeSchema.nullable(),
    heads: z
      .object({
        theta: z.number(),
        budgetFraction: z.number().positive().max(1),
        scores: z.array(z.array(z.number())),
        kept: z.array(z.array(z.boolean())),
        cost: z.number(),
        fullCost: z.number(),
      })
      .nullable(),
    /**
     * Top-1 agreement of the squeezed model's greedy tokens with the unsqueezed model's, measured
     * by the converter on its calibration text (1 = every token equal). Absent for lossless plans.
     */
    agreement: z.number().min(0).max(1).optional(),
  }),
  buckets: z.object({ prefill: z.number().int().min(1).max(256) }),
  engine: z.unknown().transform((v) => parsePlan(v)),
});
export type ZkllmPlan = Omit<z.infer<typeof zkllmPlanSchema>, "engine"> & { engine: EnginePlan };

/**
 * Parses and validates a plan file's text and checks it belongs to the weights whose sha256
 * (hex) is `weightsSha256`. `name` is how errors refer to the file (a path, where there is one).
 */
export function parseZkllmPlan(text: string, weightsSha256: string, name: string = PLAN_FILE): ZkllmPlan {
  const plan = zkllmPlanSchema.parse(JSON.parse(text)) as ZkllmPlan;
  if (weightsSha256 !== plan.modelSha256)
    throw new Error(
      `${name} was made for other weights (sha256 ${plan.modelSha256}, found ${weightsSha256})`,
    );
  return plan;
}

/** Why a plan's encrypted answers may differ from plain ones, and how often they agreed. */
export type PlanLossiness = {
  /** True when any lossy squeezing is on: the encrypted answer may differ from the plain one. */
  lossy: boolean;
  /** Each lossy option in effect, in words ("256-level activation quantization", …). */
  reasons: string[];
  /** Measured top-1 agreement with plain inference (0–1), when the converter measured it. */
  agreement?: number;
};

/**
 * Whether a plan is lossy. Fusion is exact and the default parameter set errs by about 1e-6, so
 * only activation quantization, dropped heads and the fast parameter set make a plan lossy.
 */
export function planLossiness(plan: Pick<ZkllmPlan, "squeeze" | "engine">): PlanLossiness {
  const reasons: string[] = [];
  const q = plan.squeeze.quantize;
  if (q) reasons.push(`${q.levels}-level activation quantization`);
  const heads = plan.squeeze.heads;
  if (heads) {
    const dropped = heads.kept.flat().filter((k) => !k).length;
    if (dropped > 0) reasons.push(`${dropped} of ${heads.kept.flat().length} attention heads dropped`);
  }
  if (plan.engine.paramSet !== "n8192-q100") reasons.push(`the fast parameter set ${plan.engine.paramSet}`);
  const agreement = plan.squeeze.agreement;
  return { lossy: reasons.length > 0, reasons, ...(agreement !== undefined ? { agreement } : {}) };
}

/** The split a plan describes (its fusion and kept heads). */
export function splitForPlan(ckpt: Gpt2Checkpoint, plan: ZkllmPlan): SplitModel {
  return splitModel(ckpt, { fuse: plan.squeeze.fuse, keptHeads: plan.squeeze.heads?.kept });
}

/** What a hybrid session of the plan does on the client (its quantization, if any). */
export function sessionOptions(plan: ZkllmPlan): SessionOptions {
  return plan.squeeze.quantize ? { quantize: plan.squeeze.quantize } : {};
}
