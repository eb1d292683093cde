/**
 * The encrypted-inference plan: the list of steps a client may ask an evaluator to run.
 *
 * A plan is public JSON shared by client and server: the client derives its slot layouts and
 * evaluation keys from it, the server its diagonal plaintexts. Plans read from disk or the
 * network are validated here (schema, then each step's internal consistency), so a tampered plan
 * cannot make an evaluator allocate or rotate beyond what its layout implies.
 */
import { z } from "zod";
import { ZkllmInputError } from "./errors";
import {
  checkLinearStep,
  outputOwners,
  outputPlaintextBytes,
  planLinear,
  plaintextShareKey,
  type LinearPlanStep,
  type PlanLinearOptions,
} from "./linear";
import { PARAM_SETS, type ParamSetId } from "./params";

/** Any step the evaluator can run (only linear steps so far). */
export type PlanStep = LinearPlanStep;

/** A whole plan. */
export type EnginePlan = {
  /** Plan format version (1). */
  version: 1;
  paramSet: ParamSetId;
  steps: PlanStep[];
};

/** Current plan format version. */
export const PLAN_VERSION = 1 as const;

const paramSetId = z.enum(Object.keys(PARAM_SETS) as [ParamSetId, ...ParamSetId[]]);
const count = z
  .number()
  .int()
  .min(1)
  .max(1 << 24);
const ms = z.number().min(0).max(1e12);

const linearStepSchema = z.object({
  kind: z.literal("linear"),
  id: z.string().min(1).max(200),
  paramSet: paramSetId,
  weight: z.string().min(1).max(200),
  bias: z.string().min(1).max(200).nullable(),
  weightLayout: z.enum(["out-in", "in-out"]),
  inFeatures: count,
  weightOutFeatures: count,
  rows: z
    .array(z.number().int().min(0))
    .max(1 << 20)
    .nullable(),
  outFeatures: count,
  tokens: z
    .number()
    .int()
    .min(1)
    .max(1 << 16),
  layout: z.object({
    slots: count,
    chunk: count,
    chunks: count,
    tokensPerCiphertext: count,
    groups: count,
    copies: count,
    babySteps: count,
    span: count,
  }),
  outputs: z
    .array(z.object({ rowStart: z.number().int().min(0), rows: count, window: count, giantSteps: count }))
    .min(1)
    .max(1 << 16),
  rotations: z.array(z.number().int().min(1)).max(1024),
  // Bounded so a hostile plan cannot make a client lay out (or a server expect) millions of ciphertexts.
  inputCiphertexts: z
    .number()
    .int()
    .min(1)
    .max(1 << 16),
  outputCiphertexts: z
    .number()
    .int()
    .min(1)
    .max(1 << 16),
  estimate: z.object({
    multiplyPlain: ms,
    add: ms,
    addPlain: ms,
    rotate: ms,
    rotateGiant: ms,
    rescale: ms,
    serverMs: ms,
    clientMs: ms,
  }),
  memory: z.object({
    plaintexts: z.number().int().min(0),
    bytes: z.number().int().min(0),
    largestOutputBytes: z.number().int().min(0),
  }),
});

const planSchema = z.object({
  version: z.literal(PLAN_VERSION),
  paramSet: paramSetId,
  steps: z.array(linearStepSchema).max(10_000),
});

/** Builds a plan from steps (all must use the plan's parameter set and have distinct ids). */
export function createPlan(paramSet: ParamSetId, steps: readonly PlanStep[]): EnginePlan {
  const plan: EnginePlan = { version: PLAN_VERSION, paramSet, steps: [...steps] };
  checkPlan(plan);
  return plan;
}

/** Validates untrusted plan JSON (a string or a parsed value) and returns the typed plan. */
export function parsePlan(json: unknown): EnginePlan {
  let value = json;
  if (typeof json === "string") {
    try {
      value = JSON.parse(json);
    } catch {
      throw new ZkllmInputError("InvalidPlan", "The plan is not valid JSON.");
    }
  }
  const parsed = planSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ZkllmInputError(
      "InvalidPlan",
      `Invalid plan at ${issue?.path.join(".") || "(root)"}: ${issue?.message}.`,
    );
  }
  const plan = parsed.data as EnginePlan;
  checkPlan(plan);
  return plan;
}

/** Checks a typed plan's cross-field rules. */
export function checkPlan(plan: EnginePlan): void {
  const ids = new Set<string>();
  for (const step of plan.steps) {
    if (ids.has(step.id)) throw new ZkllmInputError("InvalidPlan", `Duplicate plan step id "${step.id}".`);
    ids.add(step.id);
    if (step.paramSet !== plan.paramSet) {
      throw new ZkllmInputError(
        "InvalidPlan",
        `Step "${step.id}" uses ${step.paramSet}; the plan uses ${plan.paramSet}.`,
      );
    }
    checkLinearStep(step);
  }
}

/** Every rotation step any plan step needs: what the client's Galois keys must cover. */
export function planRotations(plan: EnginePlan | readonly PlanStep[]): number[] {
  const steps = Array.isArray(plan) ? (plan as readonly PlanStep[]) : (plan as EnginePlan).steps;
  const all = new Set<number>();
  for (const step of steps) for (const r of step.rotations) all.add(r);
  return [...all].sort((a, b) => a - b);
}

/** Whether any step needs relinearization keys (none of the linear steps do). */
export function planNeedsRelinearization(_plan: EnginePlan): boolean {
  return false;
}

/** The plaintext memory a plan needs, spread over a pool of workers. */
export type PlanMemory = {
  workers: number;
  /** Every distinct plaintext of the plan (steps that share plaintexts counted once). */
  totalBytes: number;
  /** Per worker: the plaintexts of the outputs it owns (`outputOwners`). */
  perWorkerBytes: number[];
  /** The busiest worker's share: what its cache needs so no token re-encodes anything. */
  maxWorkerBytes: number;
  /** The largest single output's plaintexts: the least a worker must be able to hold at once. */
  largestOutputBytes: number;
};

/** How much plaintext memory a plan needs in total and per worker of a `workers`-worker pool. */
export function planMemory(plan: EnginePlan, workers: number): PlanMemory {
  const perWorkerBytes = new Array<number>(workers).fill(0);
  const seen = new Set<string>();
  let totalBytes = 0;
  let largestOutputBytes = 0;
  for (const step of plan.steps) {
    const key = plaintextShareKey(step);
    if (seen.has(key)) continue;
    seen.add(key);
    const owners = outputOwners(step, workers);
    step.outputs.forEach((_, o) => {
      const bytes = outputPlaintextBytes(step, o);
      const owner = owners[o] as number;
      perWorkerBytes[owner] = (perWorkerBytes[owner] as number) + bytes;
      totalBytes += bytes;
      largestOutputBytes = Math.max(largestOutputBytes, bytes);
    });
  }
  return {
    workers,
    totalBytes,
    perWorkerBytes,
    maxWorkerBytes: Math.max(...perWorkerBytes),
    largestOutputBytes,
  };
}

/** Looks a step up by id. */
export function findStep(plan: EnginePlan, id: string): PlanStep | undefined {
  return plan.steps.find((s) => s.id === id);
}

/** Options of `planGpt2Block`. */
export type PlanGpt2BlockOptions = {
  paramSet: ParamSetId;
  /** Block index i (tensor names `h.{i}.…`). */
  layer: number;
  /** Model width d (n_embd). */
  width: number;
  /** MLP width (n_inner, default 4·d). */
  inner?: number;
  /** Tokens per request (1 while generating with a KV cache). */
  tokens: number;
  /** Tensor-name prefix, e.g. `transformer.` for GPT2LMHeadModel checkpoints (default none). */
  prefix?: string;
  /** Step-id suffix to tell plans for different token counts apart (default `@T{tokens}`). */
  suffix?: string;
  /** Passed to every `planLinear` call (costs, maxCopies, fullReduction). */
  planner?: Pick<
    PlanLinearOptions,
    "costs" | "maxCopies" | "fullReduction" | "parallelism" | "maxTokensPerCiphertext"
  >;
};

/**
 * The four encrypted products of one Hugging Face GPT-2 block, with its tensor names and its
 * Conv1D layout ([in, out]): attn.c_attn (d → 3d), attn.c_proj (d → d), mlp.c_fc (d → 4d) and
 * mlp.c_proj (4d → d). LayerNorms, the attention core and GELU stay on the client.
 */
export function planGpt2Block(options: PlanGpt2BlockOptions): LinearPlanStep[] {
  const d = options.width;
  const inner = options.inner ?? 4 * d;
  const name = `${options.prefix ?? ""}h.${options.layer}`;
  const suffix = options.suffix ?? `@T${options.tokens}`;
  const products: [string, number, number][] = [
    ["attn.c_attn", d, 3 * d],
    ["attn.c_proj", d, d],
    ["mlp.c_fc", d, inner],
    ["mlp.c_proj", inner, d],
  ];
  return products.map(([module, inFeatures, outFeatures]) =>
    planLinear({
      ...options.planner,
      id: `${name}.${module}${suffix}`,
      paramSet: options.paramSet,
      inFeatures,
      outFeatures,
      tokens: options.tokens,
      weight: `${name}.${module}.weight`,
      bias: `${name}.${module}.bias`,
      weightLayout: "in-out",
    }),
  );
}
